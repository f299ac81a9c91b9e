using System.Net;
using System.Net.Sockets;
using System.Text;
using ContentFilter.Testing.Messages;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.TestKit;

/// <summary>The test kit's own pure parts: a comparison that cannot fail would make every end-to-end test hollow.</summary>
public sealed class TestKitTests
{
    [Theory]
    [InlineData("a\r\n", "a\r\n.\r\n")]
    [InlineData(".a\r\n", "..a\r\n.\r\n")]
    [InlineData("x\r\n.\r\ny\r\n", "x\r\n..\r\ny\r\n.\r\n")]
    [InlineData("no ending", "no ending\r\n.\r\n")]
    [InlineData("bare\n.lf\r\n", "bare\n.lf\r\n.\r\n")]
    [InlineData("", ".\r\n")]
    public void DotStuff_Lines_StuffsOnlyAfterCrlfAndTerminates(string message, string wire)
    {
        Assert.Equal(wire, Encoding.ASCII.GetString(RawSmtpClient.DotStuff(Encoding.ASCII.GetBytes(message))));
    }

    [Fact]
    public void Compare_TraceHeadersOnTop_IsIntactAndListsThem()
    {
        byte[] sent = "Subject: x\r\n\r\nbody\r\n"u8.ToArray();
        byte[] delivered = "Return-Path: <a@b>\nReceived: from x\n\tby y\nSubject: x\n\nbody\n"u8.ToArray();
        DeliveryComparison c = DeliveredMessage.Compare(sent, delivered, DeliveredMessage.PostfixTraceFields);
        Assert.True(c.Intact, c.Problem);
        Assert.Equal(["Return-Path: <a@b>", "Received: from x\n\tby y"], c.AddedFields);
    }

    [Theory]
    [InlineData("X-Other: 1\nSubject: x\n\nbody\n", "unexpected field")]
    [InlineData("Subject: x\n\nbody!\n", "does not end with")]
    [InlineData("Subject: x\n\nbody\n\n", "does not end with")]
    [InlineData("Received: a\nXSubject: x\n\nbody\n", "line ending")]
    public void Compare_ChangedOrUnexpectedHeader_IsNotIntact(string delivered, string problem)
    {
        DeliveryComparison c = DeliveredMessage.Compare("Subject: x\r\n\r\nbody\r\n"u8, Encoding.ASCII.GetBytes(delivered), DeliveredMessage.PostfixTraceFields);
        Assert.False(c.Intact);
        Assert.Contains(problem, c.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LargeMessage_Write_HasRequestedSizeCrlfLinesAndDotLines()
    {
        string path = Path.GetTempFileName();
        try
        {
            var (_, length) = LargeMessage.Write(path, 1_000_000);
            Assert.InRange(length, 1_000_000, 1_001_000);
            string text = File.ReadAllText(path);
            Assert.DoesNotContain("\n", text.Replace("\r\n", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Contains("\r\n.", text, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task HoldingRelay_PassesExactlyTheSetBytesUntilReleased_ThenTheRestIntactAndRepliesAlways()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        await using var relay = new HoldingRelay(holdAfter: 10_000) { TargetPort = ((IPEndPoint)listener.LocalEndpoint).Port };
        byte[] sent = new byte[100_000];
        new Random(7).NextBytes(sent);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, relay.Port);
        using TcpClient server = await listener.AcceptTcpClientAsync();
        NetworkStream toServer = client.GetStream();
        NetworkStream atServer = server.GetStream();
        Task sending = toServer.WriteAsync(sent).AsTask();

        byte[] received = new byte[sent.Length];
        await atServer.ReadExactlyAsync(received.AsMemory(0, 10_000));
        Assert.Equal(10_000, await relay.Held.WaitAsync(TimeSpan.FromSeconds(30)));
        // Held: the server's side still reaches the client, nothing more of the client's reaches the server.
        await atServer.WriteAsync("250 ok\r\n"u8.ToArray());
        byte[] reply = new byte[8];
        await toServer.ReadExactlyAsync(reply);
        Assert.Equal("250 ok\r\n", Encoding.ASCII.GetString(reply));
        Assert.Equal(0, server.Available);

        relay.Release();
        await atServer.ReadExactlyAsync(received.AsMemory(10_000));
        await sending;
        Assert.Equal(sent, received);

        // The server closing ends the client's connection too (reset: the relay closes both at once).
        server.Close();
        try
        {
            Assert.Equal(0, await toServer.ReadAsync(new byte[1]).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        }
        catch (IOException)
        {
        }
    }
}
