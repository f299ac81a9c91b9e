using System.Net;
using System.Text;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Frontends.Tests.Delivery;

/// <summary>Spooled messages and envelopes for the next-hop tests.</summary>
internal static class NextHopTestMessages
{
    public const string Simple = "From: a@example.org\r\nTo: b@example.net\r\nSubject: test\r\n\r\nHello\r\n.dot line\r\n";

    public static string SpoolDirectory { get; } = Path.Combine(Path.GetTempPath(), "cf-reinject-tests-" + Environment.ProcessId);

    public static async Task<(MessageSpool Spool, MessageHeaders Headers)> SpoolAsync(byte[] message, int inMemoryThreshold = 1 << 20)
    {
        var spool = new MessageSpool(new SpoolOptions { Directory = SpoolDirectory, InMemoryThreshold = inMemoryThreshold }, MailId.New());
        // Write in odd chunks, as the DATA decoder would.
        for (int i = 0; i < message.Length; i += 7000)
        {
            await spool.WriteAsync(message.AsMemory(i, Math.Min(7000, message.Length - i)), CancellationToken.None);
        }
        await spool.CompleteAsync(CancellationToken.None);
        return (spool, spool.ReadHeaders(64 * 1024));
    }

    public static Task<(MessageSpool Spool, MessageHeaders Headers)> SpoolAsync(string message) => SpoolAsync(Encoding.UTF8.GetBytes(message));

    public static Envelope Envelope(params string[] recipients)
    {
        var e = new Envelope
        {
            MailFrom = "sender@example.org",
            Client = new ClientInfo
            {
                Name = "mail.example.org",
                Address = IPAddress.Parse("192.0.2.10"),
                Port = 41532,
                Helo = "mail.example.org",
                Protocol = "ESMTP",
                Ident = "3Hq1Z4bK9f",
                Source = "REMOTE",
            },
        };
        e.MailParameters.Add("BODY=8BITMIME");
        e.MailParameters.Add("SIZE=1234");
        foreach (string r in recipients.Length == 0 ? new[] { "rcpt@example.net" } : recipients)
        {
            e.Recipients.Add(new EnvelopeRecipient(r, Array.Empty<string>()));
        }
        return e;
    }
}
