using System.Text;
using ContentFilter.Checks.Spam;
using ContentFilter.Checks.Tests.Antivirus;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Checks.Tests.Spam;

/// <summary>The spamd client and check against one real spamd shared by the class (spamd is slow to start).</summary>
public class SpamdTests : IClassFixture<SpamdInstance>
{
    private readonly SpamdInstance _spamd;

    public SpamdTests(SpamdInstance spamd)
    {
        _spamd = spamd;
    }

    private static SpamAssassinCheck Check(params string[] servers) => Check(new SpamAssassinOptions { Servers = servers.ToList() });

    private static SpamAssassinCheck Check(SpamAssassinOptions options) =>
        new(new SpamdClient(options, TimeProvider.System, NullLogger<SpamdClient>.Instance), options);

    [SkippableFact]
    public async Task Check_RealSpamdGtube_ScoreAtLeast1000AndGtubeRule()
    {
        Skip.IfNot(SpamdInstance.IsAvailable, "spamd not installed");
        await _spamd.StartAsync();
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean(TestMessage.Gtube + "\r\n"));
        await using MessageSpool spool = context.Spool;

        var result = (SpamScanResult)await Check(_spamd.Address).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Hit, result.Status);
        Assert.True(result.Score >= 1000, $"score {result.Score}");
        Assert.Contains("GTUBE", result.Rules);
        Assert.True(result.Threshold > 0);
        Assert.False(result.Truncated);
    }

    [SkippableFact]
    public async Task Check_RealSpamdCleanMessage_LowScoreOk()
    {
        Skip.IfNot(SpamdInstance.IsAvailable, "spamd not installed");
        await _spamd.StartAsync();
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean());
        await using MessageSpool spool = context.Spool;

        var result = (SpamScanResult)await Check(_spamd.Address).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Ok, result.Status);
        Assert.True(result.Score < 5, $"score {result.Score}");
        Assert.DoesNotContain("GTUBE", result.Rules);
    }

    [SkippableFact]
    public async Task Check_RealSpamdOversizedTruncated_GtubeInHeadStillFoundAndMarked()
    {
        Skip.IfNot(SpamdInstance.IsAvailable, "spamd not installed");
        await _spamd.StartAsync();
        string body = TestMessage.Gtube + "\r\n" + string.Concat(Enumerable.Repeat("a line of filler text, nothing to see here\r\n", 800));
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean(body));
        await using MessageSpool spool = context.Spool;
        Assert.True(context.Spool.Length > 20_000);

        var result = (SpamScanResult)await Check(new SpamAssassinOptions { Servers = { _spamd.Address }, MaxSize = 8_000 }).RunAsync(context, CancellationToken.None);

        Assert.True(result.Truncated);
        Assert.True(result.Score >= 1000);
    }

    [SkippableFact]
    public async Task Ping_RealSpamd_PongAndFakeGarbageNot()
    {
        Skip.IfNot(SpamdInstance.IsAvailable, "spamd not installed");
        await _spamd.StartAsync();
        await using var fake = new SpamdFake(Encoding.ASCII.GetBytes("hello\r\n"));
        var client = new SpamdClient(new SpamAssassinOptions { Servers = { _spamd.Address, fake.Address } }, TimeProvider.System, NullLogger<SpamdClient>.Instance);

        Assert.True(await client.PingAsync(client.Servers[0], CancellationToken.None));
        Assert.False(await client.PingAsync(client.Servers[1], CancellationToken.None));
    }

    [Theory]
    [InlineData("garbage\r\n")]
    [InlineData("SPAMD/1.0 76 Bad header line: (header not in 'Name: value' format)\r\n")]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nContent-length: 2\r\n\r\nAB")]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nSpam: Perhaps ; 1 / 2\r\n\r\n")]
    [InlineData("")]
    public async Task Check_FakeSpamdGarbageOrError_FailedWithReason(string reply)
    {
        await using var fake = new SpamdFake(Encoding.ASCII.GetBytes(reply));
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean());
        await using MessageSpool spool = context.Spool;

        CheckResult result = await Check(fake.Address).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Failed, result.Status);
        Assert.Contains(fake.Address, result.Detail);
    }

    [Fact]
    public async Task Check_FakeSpamdNeverAnswers_FailedWithinTimeout()
    {
        await using var fake = new SpamdFake(reply: null);
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean());
        await using MessageSpool spool = context.Spool;
        var started = System.Diagnostics.Stopwatch.StartNew();

        CheckResult result = await Check(new SpamAssassinOptions { Servers = { fake.Address }, Timeout = TimeSpan.FromMilliseconds(400) }).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Failed, result.Status);
        Assert.Contains("no reply within", result.Detail);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Check_Request_ExactContentLengthAndUserAndWholeMessage()
    {
        await using var fake = new SpamdFake(Encoding.ASCII.GetBytes("SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: False ; -1.9 / 5.0\r\n\r\nA,B,C"));
        string message = TestMessage.Clean();
        MessageContext context = await TestMessage.ContextAsync(message);
        await using MessageSpool spool = context.Spool;

        var result = (SpamScanResult)await Check(new SpamAssassinOptions { Servers = { fake.Address }, User = "amavis" }).RunAsync(context, CancellationToken.None);

        Assert.Equal(-1.9, result.Score);
        Assert.Equal(new[] { "A", "B", "C" }, result.Rules);
        string request = Encoding.UTF8.GetString(Assert.Single(fake.Requests));
        Assert.Equal($"SYMBOLS SPAMC/1.5\r\nContent-length: {Encoding.UTF8.GetByteCount(message)}\r\nUser: amavis\r\n\r\n" + message, request);
    }

    [Fact]
    public async Task Check_OversizedTruncate_CutAtLineEndWithPseudoHeader()
    {
        await using var fake = new SpamdFake(Encoding.ASCII.GetBytes("SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"));
        string message = TestMessage.Clean(string.Concat(Enumerable.Range(0, 400).Select(i => $"line number {i:D5} of the body\r\n")));
        MessageContext context = await TestMessage.ContextAsync(message, inMemoryThreshold: 1024);
        await using MessageSpool spool = context.Spool;
        Assert.NotNull(context.Spool.FilePath);

        var result = (SpamScanResult)await Check(new SpamAssassinOptions { Servers = { fake.Address }, MaxSize = 5000 }).RunAsync(context, CancellationToken.None);

        Assert.True(result.Truncated);
        string request = Encoding.UTF8.GetString(Assert.Single(fake.Requests));
        int headEnd = request.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        string sent = request[headEnd..];
        Assert.StartsWith(SpamAssassinCheck.TruncatedHeaderName + ": first ", sent);
        string original = sent[(sent.IndexOf("\r\n", StringComparison.Ordinal) + 2)..];
        Assert.True(original.Length <= 5000);
        Assert.True(original.Length > 5000 - 40);
        Assert.EndsWith("\n", original);
        Assert.StartsWith(original, message);
        Assert.Contains($"Content-length: {Encoding.UTF8.GetByteCount(sent)}\r\n", request);
    }

    [Fact]
    public async Task Check_OversizedSkip_SkippedWithoutContactingSpamd()
    {
        await using var fake = new SpamdFake(Encoding.ASCII.GetBytes("SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"));
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean(new string('x', 70) + "\r\n" + new string('y', 3000)));
        await using MessageSpool spool = context.Spool;

        CheckResult result = await Check(new SpamAssassinOptions { Servers = { fake.Address }, MaxSize = 1024, Oversized = SpamOversizedMode.Skip }).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Skipped, result.Status);
        Assert.Empty(fake.Requests);
    }

    [Fact]
    public async Task Check_FirstSpamdErrorsSecondAnswers_FailsOver()
    {
        await using var bad = new SpamdFake(Encoding.ASCII.GetBytes("SPAMD/1.0 69 Service Unavailable\r\n"));
        await using var good = new SpamdFake(Encoding.ASCII.GetBytes("SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.5 / 5.0\r\n\r\n"));
        SpamAssassinCheck check = Check(bad.Address, good.Address);

        for (int i = 0; i < 2; i++)
        {
            MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean());
        await using MessageSpool spool = context.Spool;
            var result = (SpamScanResult)await check.RunAsync(context, CancellationToken.None);
            Assert.Equal(7.5, result.Score);
        }
        Assert.Equal(2, good.Requests.Count);
        Assert.Single(bad.Requests);
    }
}
