using System.Net.Sockets;
using System.Text;
using ContentFilter.Frontends.Delivery;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;
using static ContentFilter.Frontends.Tests.Delivery.NextHopTestMessages;

namespace ContentFilter.Frontends.Tests.Delivery;

/// <summary>
/// Smuggling through a real Postfix 3.7 smtpd, which takes a bare LF as a line end: sent raw, <c>LF . LF</c> splits
/// one message into two (the control case proves the peer is vulnerable); through our client it stays one.
/// </summary>
public sealed class SmtpNextHopClientPostfixTests
{
    private const string Smuggling =
        "Subject: carrier\r\n\r\nx\n.\nMAIL FROM:<evil@dest.test>\r\nRCPT TO:<u@dest.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nhi\r\n";

    [SkippableFact]
    public async Task Deliver_LfDotLfToPostfix37_OneMessageWhereRawSendMakesTwo()
    {
        PostfixInstance.SkipUnlessAvailable();
        await using PostfixInstance postfix = await PostfixInstance.StartAsync();

        // Control: the same bytes written raw (unstuffed) become two messages at this next hop.
        await SendRawAsync(postfix.SmtpPort, Encoding.ASCII.GetBytes(Smuggling + ".\r\n"));
        Assert.Equal(2, (await postfix.WaitForDeliveriesAsync(2, TimeSpan.FromSeconds(30))).Count);
        foreach (string f in postfix.DeliveredFiles())
        {
            File.Delete(f);
        }

        await using var client = new SmtpNextHopClient(new NextHopOptions { Endpoint = "127.0.0.1:" + postfix.SmtpPort, HeloName = "filter.example" }, TimeProvider.System, NullLogger<SmtpNextHopClient>.Instance);
        Envelope envelope = Envelope("u@dest.test");
        var (spool, headers) = await SpoolAsync(Smuggling);
        DeliveryOutcome outcome;
        await using (spool)
        {
            outcome = await client.DeliverAsync(envelope, spool, headers, Array.Empty<HeaderEdit>(), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        }
        Assert.True(outcome.AnyAccepted, outcome.Final.ToString());
        Assert.NotNull(outcome.QueuedAs);

        byte[] only = Assert.Single(await postfix.WaitForDeliveriesAsync(1, TimeSpan.FromSeconds(30)));
        string text = Encoding.ASCII.GetString(only);
        Assert.Contains("Subject: carrier", text, StringComparison.Ordinal);
        Assert.Contains("MAIL FROM:<evil@dest.test>", text, StringComparison.Ordinal); // stayed body text
    }

    private static async Task SendRawAsync(int port, byte[] data)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(System.Net.IPAddress.Loopback, port);
        await using var stream = new NetworkStream(socket);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        async Task ReplyAsync()
        {
            string? line;
            do
            {
                line = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            while (line is not null && line.Length > 3 && line[3] == '-');
        }
        async Task CommandAsync(string command)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
            await ReplyAsync();
        }
        await ReplyAsync();
        await CommandAsync("EHLO raw.example");
        await CommandAsync("MAIL FROM:<sender@dest.test>");
        await CommandAsync("RCPT TO:<u@dest.test>");
        await CommandAsync("DATA");
        await stream.WriteAsync(data);
        await ReplyAsync(); // end of the first (carrier) message
        await ReplyAsync(); // MAIL (smuggled)
        await ReplyAsync(); // RCPT
        await ReplyAsync(); // DATA 354
        await ReplyAsync(); // end of the smuggled message
        await CommandAsync("QUIT");
    }
}
