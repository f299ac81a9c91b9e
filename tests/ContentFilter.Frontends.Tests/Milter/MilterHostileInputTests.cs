using System.Buffers.Binary;
using ContentFilter.Frontends.Milter;
using ContentFilter.Protocols.Milter;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Frontends.Tests.Milter;

/// <summary>Bad peers: each case gets a clear log line and a closed connection, never a crash or a hang.</summary>
public sealed class MilterHostileInputTests
{
    private const int BadPacket = 4002;
    private const int OutOfOrder = 4003;
    private const int Timeout = 4004;
    private const int ClosedMidPacket = 4005;

    private static byte[] Packet(char code, params byte[] data)
    {
        var bytes = new byte[5 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)data.Length + 1);
        bytes[4] = (byte)code;
        data.CopyTo(bytes, 5);
        return bytes;
    }

    private static async Task AssertClosedAndLoggedAsync(MilterHarness h, MilterTestClient client, Task session, int eventId)
    {
        Assert.True(await client.ClosedAsync(), "the session did not close the connection");
        await session.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(session.IsCompletedSuccessfully);
        Assert.True(h.Logged(eventId), $"no log line {eventId}; got: {string.Join(" | ", h.Logger.Entries.Select(e => e.Id.Id + " " + e.Message))}");
    }

    /// <summary>After any hostile connection the same door still serves a normal one.</summary>
    private static async Task AssertStillServesAsync(MilterHarness h)
    {
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        Assert.IsType<MilterReply.OptNeg>(await client.ReadAsync());
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        Assert.Equal(MilterReplyCode.Continue, (await client.ReadEndOfMessageAsync())[^1].Code);
        await client.SendAsync(new MilterCommand.Quit());
        Assert.True(await client.ClosedAsync());
        await session.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ZeroLengthPacket_LoggedAndClosed()
    {
        using var h = new MilterHarness(checks: [FakeCheck.Clean()]);
        (MilterTestClient client, Task session, _) = h.Connect();

        await client.SendRawAsync([0, 0, 0, 0]);

        await AssertClosedAndLoggedAsync(h, client, session, BadPacket);
        Assert.Contains(h.Logger.Entries, e => e.Message.Contains("ZeroLength", StringComparison.Ordinal));
        await AssertStillServesAsync(h);
    }

    [Fact]
    public async Task PacketOverCap_ClosedBeforeDataArrives()
    {
        using var h = new MilterHarness(checks: [FakeCheck.Clean()], options: new MilterOptions { MaxPacketSize = 128 * 1024 });
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();

        // Only the length prefix: the session must not wait for 2 GiB that never come.
        await client.SendRawAsync([0x7f, 0xff, 0xff, 0xff]);

        await AssertClosedAndLoggedAsync(h, client, session, BadPacket);
        Assert.Contains(h.Logger.Entries, e => e.Message.Contains("TooLong", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UnknownCommand_LoggedAndClosed()
    {
        using var h = new MilterHarness(checks: [FakeCheck.Clean()]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();

        await client.SendRawAsync(Packet('Z', 1, 2, 3));

        await AssertClosedAndLoggedAsync(h, client, session, BadPacket);
        Assert.Contains(h.Logger.Entries, e => e.Message.Contains("UnknownCommand", StringComparison.Ordinal));
    }

    [Fact]
    public async Task BodyBeforeMail_OutOfOrderClosed()
    {
        using var h = new MilterHarness(checks: [FakeCheck.Clean()]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();

        await client.SendAsync(new MilterCommand.Connect("c", '4', 1, "192.0.2.1"), new MilterCommand.Body("x\r\n"u8.ToArray()));

        await AssertClosedAndLoggedAsync(h, client, session, OutOfOrder);
        Assert.Contains(h.Logger.Entries, e => e.Message.Contains("Body", StringComparison.Ordinal) && e.Message.Contains("Idle", StringComparison.Ordinal));
        Assert.Empty(h.Audit.Records);
    }

    [Fact]
    public async Task CommandBeforeNegotiation_OutOfOrderClosed()
    {
        using var h = new MilterHarness();
        (MilterTestClient client, Task session, _) = h.Connect();

        await client.SendAsync(new MilterCommand.Mail("<a@b>", []));

        await AssertClosedAndLoggedAsync(h, client, session, OutOfOrder);
    }

    [Fact]
    public async Task SecondNegotiation_OutOfOrderClosed()
    {
        using var h = new MilterHarness();
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();

        await client.SendAsync(Postfix.Offer);

        await AssertClosedAndLoggedAsync(h, client, session, OutOfOrder);
    }

    [Fact]
    public async Task RcptWithoutMail_OutOfOrderClosed()
    {
        using var h = new MilterHarness();
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();

        await client.SendAsync(new MilterCommand.Rcpt("<a@b>", []));

        await AssertClosedAndLoggedAsync(h, client, session, OutOfOrder);
    }

    [Fact]
    public async Task PeerStopsMidPacket_ReadTimeoutCloses()
    {
        var time = new FakeTimeProvider();
        using var h = new MilterHarness(options: new MilterOptions { PacketTimeout = TimeSpan.FromSeconds(30) }, time: time);
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();

        // Half a HELO packet, then silence.
        await client.SendRawAsync(Packet('H', "client.example.com\0"u8.ToArray())[..9]);
        Task<bool> closed = client.ClosedAsync(TimeSpan.FromSeconds(20));
        while (!session.IsCompleted)
        {
            time.Advance(TimeSpan.FromSeconds(31));
            await Task.WhenAny(session, Task.Delay(50));
        }

        Assert.True(await closed);
        await AssertClosedAndLoggedAsync(h, client, session, Timeout);
        Assert.Contains(h.Logger.Entries, e => e.Message.Contains("in the middle of a packet", StringComparison.Ordinal));
    }

    [Fact]
    public async Task IdlePeer_IdleTimeoutCloses()
    {
        var time = new FakeTimeProvider();
        using var h = new MilterHarness(options: new MilterOptions { IdleTimeout = TimeSpan.FromMinutes(10) }, time: time);
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();

        while (!session.IsCompleted)
        {
            time.Advance(TimeSpan.FromMinutes(11));
            await Task.WhenAny(session, Task.Delay(50));
        }

        await AssertClosedAndLoggedAsync(h, client, session, Timeout);
    }

    [Fact]
    public async Task PeerClosesMidPacket_LoggedNotHung()
    {
        using var h = new MilterHarness();
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();

        await client.SendRawAsync([0, 0, 0, 20, (byte)'H', (byte)'x']);
        await client.CompleteAsync();

        await AssertClosedAndLoggedAsync(h, client, session, ClosedMidPacket);
    }

    [Fact]
    public async Task Garbage_HttpRequest_LoggedAndClosed()
    {
        using var h = new MilterHarness(checks: [FakeCheck.Clean()]);
        (MilterTestClient client, Task session, _) = h.Connect();

        await client.SendRawAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());

        await AssertClosedAndLoggedAsync(h, client, session, BadPacket);
        await AssertStillServesAsync(h);
    }

    [Fact]
    public async Task MalformedHeaderMidMessage_ClosedAndSpoolRemoved()
    {
        using var h = new MilterHarness(checks: [FakeCheck.Clean()]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await client.SendAsync(Postfix.Offer);
        await client.ReadAsync();
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(new MilterCommand.Header("Subject", " x"u8.ToArray()), new MilterCommand.Body(new byte[4000]));

        await client.SendRawAsync(Packet('L', "Subject\0no nul"u8.ToArray()));

        await AssertClosedAndLoggedAsync(h, client, session, BadPacket);
        Assert.Empty(Directory.GetFiles(h.SpoolDirectory));
        Assert.Empty(h.Audit.Records);
    }

    public static TheoryData<string> CorpusFiles()
    {
        var data = new TheoryData<string>();
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "ContentFilter.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        string corpus = Path.Combine(dir ?? ".", "testdata", "hostile", "milter");
        if (Directory.Exists(corpus))
        {
            foreach (string file in Directory.GetFiles(corpus, "*.bin").Order())
            {
                data.Add(file);
            }
        }
        else
        {
            data.Add(string.Empty);
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(CorpusFiles))]
    public async Task HostileCorpus_EachFileClosesWithLogLine(string file)
    {
        Skip.If(file.Length == 0, "testdata/hostile/milter not found");
        using var h = new MilterHarness(checks: [FakeCheck.Clean()]);
        (MilterTestClient client, Task session, _) = h.Connect();

        await client.SendRawAsync(await File.ReadAllBytesAsync(file));
        await client.CompleteAsync();

        while (await client.ReadAsync() is not null)
        {
            // Negotiation replies before the bad packet.
        }
        await session.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(session.IsCompletedSuccessfully);
        Assert.Contains(h.Logger.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        await AssertStillServesAsync(h);
    }
}
