using System.Text;
using ContentFilter.Checks.Antivirus;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Checks.Tests.Antivirus;

/// <summary>The clamd client against a real clamd (our own EICAR database) and scripted fakes.</summary>
public class ClamdClientTests
{
    private static ClamdClient Client(params string[] servers) => Client(TimeSpan.FromSeconds(30), servers);

    private static ClamdClient Client(TimeSpan timeout, params string[] servers) =>
        new(new ClamAvOptions { Servers = servers.ToList(), Timeout = timeout, ConnectTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System, NullLogger<ClamdClient>.Instance);

    private static MemoryStream Bytes(string s) => new(Encoding.ASCII.GetBytes(s));

    [SkippableFact]
    public async Task Scan_RealClamdEicarAttachmentOverUnixSocket_InfectedWithOurSignatureName()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();

        ClamdScanOutcome outcome = await Client(clamd.UnixAddress).ScanAsync(Bytes(TestMessage.EicarMessage()), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Infected, outcome.Status);
        string name = Assert.Single(outcome.Viruses);
        Assert.Contains("ContentFilter-Test-EICAR", name);
        Assert.EndsWith(".UNOFFICIAL", name);
        Assert.Equal(clamd.UnixAddress, outcome.Server);
    }

    [SkippableFact]
    public async Task Scan_RealClamdOverTcp_CleanIsOkAndEicarFound()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        ClamdClient client = Client(clamd.TcpAddress);

        ClamdScanOutcome clean = await client.ScanAsync(Bytes(TestMessage.Clean()), CancellationToken.None);
        ClamdScanOutcome bad = await client.ScanAsync(Bytes(TestMessage.EicarMessage()), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Clean, clean.Status);
        Assert.Empty(clean.Viruses);
        Assert.Equal(ClamdScanStatus.Infected, bad.Status);
    }

    [SkippableFact]
    public async Task Scan_RealClamdMessageLargerThanChunk_StreamedInChunksAndFound()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        // EICAR as the last of many lines, far past the first 64 KiB chunk boundary.
        string big = TestMessage.Clean(string.Concat(Enumerable.Repeat("filler line of text for the scanner to read\r\n", 5000)));
        byte[] payload = Encoding.ASCII.GetBytes(big + TestMessage.Eicar + "\r\n");
        Assert.True(payload.Length > 3 * 64 * 1024);

        ClamdScanOutcome outcome = await Client(clamd.UnixAddress).ScanAsync(new MemoryStream(payload), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Infected, outcome.Status);
    }

    [SkippableFact]
    public async Task Scan_RealClamdStreamMaxLengthExceeded_OwnOutcomeNotCleanNotFailed()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync("StreamMaxLength 100K");
        byte[] payload = Encoding.ASCII.GetBytes(TestMessage.Clean(new string('x', 76) + "\r\n")).Concat(new byte[2 * 1024 * 1024]).ToArray();

        ClamdScanOutcome outcome = await Client(clamd.UnixAddress).ScanAsync(new MemoryStream(payload), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.SizeLimitExceeded, outcome.Status);
    }

    [SkippableFact]
    public async Task Scan_BurstBeyondDebiansThreadsAndListenQueue_EveryScanAnswered()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        // Debian's clamd.conf: 12 scanning threads and a listen queue of 15. Postfix may hand the filter far more
        // messages at once; a connect that finds the queue full must wait or retry, never fail the scan (4xx).
        await using ClamdInstance clamd = await ClamdInstance.StartAsync("MaxThreads 12\nMaxConnectionQueueLength 15");
        ClamdClient client = Client(clamd.UnixAddress);
        byte[] clean = Encoding.ASCII.GetBytes(TestMessage.Clean());
        byte[] eicar = Encoding.ASCII.GetBytes(TestMessage.EicarMessage());

        ClamdScanOutcome[] outcomes = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            Task.Run(() => client.ScanAsync(new MemoryStream(i % 10 == 0 ? eicar : clean), CancellationToken.None))));

        for (int i = 0; i < outcomes.Length; i++)
        {
            Assert.True(outcomes[i].Status == (i % 10 == 0 ? ClamdScanStatus.Infected : ClamdScanStatus.Clean),
                $"scan {i}: {outcomes[i].Status} {outcomes[i].Detail}");
        }
    }

    [SkippableFact]
    public async Task Scan_ClamdStopped_FailedNamingTheServer()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        await clamd.StopAsync();

        ClamdScanOutcome unix = await Client(clamd.UnixAddress).ScanAsync(Bytes(TestMessage.EicarMessage()), CancellationToken.None);
        ClamdScanOutcome tcp = await Client(clamd.TcpAddress).ScanAsync(Bytes(TestMessage.EicarMessage()), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Failed, unix.Status);
        Assert.Contains(clamd.UnixAddress, unix.Detail);
        Assert.Equal(ClamdScanStatus.Failed, tcp.Status);
        Assert.Contains("connect failed", tcp.Detail);
    }

    [SkippableFact]
    public async Task Scan_FirstServerDownSecondUp_FailsOverToSecond()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        await using var silent = new ClamdFake(Encoding.ASCII.GetBytes("total garbage\0"));
        ClamdClient client = Client(silent.Address, clamd.UnixAddress);

        // Round robin: whichever server comes first, both scans end at the real clamd.
        for (int i = 0; i < 2; i++)
        {
            ClamdScanOutcome outcome = await client.ScanAsync(Bytes(TestMessage.EicarMessage()), CancellationToken.None);
            Assert.Equal(ClamdScanStatus.Infected, outcome.Status);
            Assert.Equal(clamd.UnixAddress, outcome.Server);
        }
        Assert.Equal(1, silent.Connections);
    }

    [Fact]
    public async Task Scan_FakeClamdNeverAnswers_FailedWithinTimeout()
    {
        await using var fake = new ClamdFake(reply: null);
        var started = System.Diagnostics.Stopwatch.StartNew();

        ClamdScanOutcome outcome = await Client(TimeSpan.FromMilliseconds(500), fake.Address).ScanAsync(Bytes(TestMessage.EicarMessage()), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Failed, outcome.Status);
        Assert.Contains("no reply within", outcome.Detail);
        Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("stream: ok\0")]
    [InlineData("HTTP/1.0 200 OK\r\n\r\n")]
    [InlineData("stream: OK")]
    [InlineData("")]
    [InlineData("stream: Can't allocate memory ERROR\0")]
    [InlineData("PONG\0")]
    public async Task Scan_FakeClamdGarbageOrError_FailedNeverClean(string reply)
    {
        await using var fake = new ClamdFake(Encoding.ASCII.GetBytes(reply));

        ClamdScanOutcome outcome = await Client(fake.Address).ScanAsync(Bytes(TestMessage.Clean()), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Failed, outcome.Status);
        Assert.False(string.IsNullOrEmpty(outcome.Detail));
    }

    [Fact]
    public async Task Scan_FakeClamdTwoFoundLines_EveryNameReported()
    {
        await using var fake = new ClamdFake(Encoding.ASCII.GetBytes("stream: A.UNOFFICIAL FOUND\0stream: Eicar-Test-Signature FOUND\0"));

        ClamdScanOutcome outcome = await Client(fake.Address).ScanAsync(Bytes(TestMessage.Clean()), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Infected, outcome.Status);
        Assert.Equal(new[] { "A.UNOFFICIAL", "Eicar-Test-Signature" }, outcome.Viruses);
    }

    [Fact]
    public async Task Scan_FakeClamdRepliesLongerThanTheFirstReadBuffer_EveryNameReported()
    {
        // The reply buffer starts at a few hundred bytes and grows: 40 FOUND lines (about 2.6 KB) must all arrive.
        string[] names = Enumerable.Range(0, 40).Select(i => $"Sig.{i:D3}.{new string('x', 50)}.UNOFFICIAL").ToArray();
        await using var fake = new ClamdFake(Encoding.ASCII.GetBytes(string.Concat(names.Select(n => $"stream: {n} FOUND\0"))));

        ClamdScanOutcome outcome = await Client(fake.Address).ScanAsync(Bytes(TestMessage.Clean()), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Infected, outcome.Status);
        Assert.Equal(names, outcome.Viruses);
    }

    [Fact]
    public async Task Scan_FakeClamdEndlessReplyWithoutTerminator_FailedNeverClean()
    {
        await using var fake = new ClamdFake(Encoding.ASCII.GetBytes("stream: OK" + new string('A', 100_000)));

        ClamdScanOutcome outcome = await Client(fake.Address).ScanAsync(Bytes(TestMessage.Clean()), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Failed, outcome.Status);
        Assert.Contains("ReplyTooLong", outcome.Detail);
    }

    [Fact]
    public async Task Scan_EmptyMessage_EndOfStreamOnlyAndCleanReplyAccepted()
    {
        await using var fake = new ClamdFake(Encoding.ASCII.GetBytes("stream: OK\0"));

        ClamdScanOutcome outcome = await Client(fake.Address).ScanAsync(new MemoryStream(), CancellationToken.None);

        Assert.Equal(ClamdScanStatus.Clean, outcome.Status);
    }

    [SkippableFact]
    public async Task CheckHealth_RealClamd_AliveWithVersion_StoppedNotAlive()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        ClamdClient client = Client(clamd.UnixAddress, clamd.TcpAddress);

        ClamdHealth unix = await client.CheckHealthAsync(client.Servers[0], CancellationToken.None);
        ClamdHealth tcp = await client.CheckHealthAsync(client.Servers[1], CancellationToken.None);
        await clamd.StopAsync();
        ClamdHealth down = await client.CheckHealthAsync(client.Servers[0], CancellationToken.None);

        Assert.True(unix.Alive);
        Assert.StartsWith("ClamAV ", unix.Version);
        Assert.True(tcp.Alive);
        Assert.False(down.Alive);
        Assert.NotNull(down.Error);
    }
}
