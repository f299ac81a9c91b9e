using System.Text;
using ContentFilter.Checks.Antivirus;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Checks.Tests.Antivirus;

public class ClamAvCheckTests
{
    private static ClamAvCheck Check(ClamAvOptions options) =>
        new(new ClamdClient(options, TimeProvider.System, NullLogger<ClamdClient>.Instance), options);

    [SkippableFact]
    public async Task Run_RealClamdEicarSpooledToFile_HitWithNames()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        MessageContext context = await TestMessage.ContextAsync(TestMessage.EicarMessage(), inMemoryThreshold: 64);
        await using MessageSpool spool = context.Spool;
        Assert.NotNull(spool.FilePath);

        var result = (VirusScanResult)await Check(new ClamAvOptions { Servers = { clamd.UnixAddress } }).RunAsync(context, CancellationToken.None);

        Assert.Equal("clamav", result.Check);
        Assert.Equal(CheckStatus.Hit, result.Status);
        Assert.Contains(result.Viruses, v => v.Contains("ContentFilter-Test-EICAR", StringComparison.Ordinal));
        Assert.Contains(clamd.UnixAddress, result.Scanner);
    }

    [SkippableFact]
    public async Task Run_RealClamdClean_Ok()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean());

        var result = (VirusScanResult)await Check(new ClamAvOptions { Servers = { clamd.TcpAddress } }).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Ok, result.Status);
        Assert.Empty(result.Viruses);
    }

    [Fact]
    public async Task Run_Unreachable_FailedNotClean()
    {
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean());
        string missing = "unix:" + Path.Combine(Path.GetTempPath(), "cf-no-such-clamd.sock");

        CheckResult result = await Check(new ClamAvOptions { Servers = { missing } }).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Failed, result.Status);
        Assert.Contains(missing, result.Detail);
    }

    [Fact]
    public async Task Run_LargerThanMaxScanSize_SkippedOversizedWithoutContactingClamd()
    {
        await using var fake = new ClamdFake(Encoding.ASCII.GetBytes("stream: OK\0"));
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean(new string('x', 2000)));

        var result = (VirusScanResult)await Check(new ClamAvOptions { Servers = { fake.Address }, MaxScanSize = 1000 }).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Skipped, result.Status);
        Assert.True(result.Oversized);
        Assert.Equal(0, fake.Connections);
    }

    [Fact]
    public async Task Run_ClamdSizeLimitReply_SkippedOversized()
    {
        await using var fake = new ClamdFake(Encoding.ASCII.GetBytes("INSTREAM size limit exceeded. ERROR\0"));
        MessageContext context = await TestMessage.ContextAsync(TestMessage.Clean());

        var result = (VirusScanResult)await Check(new ClamAvOptions { Servers = { fake.Address } }).RunAsync(context, CancellationToken.None);

        Assert.Equal(CheckStatus.Skipped, result.Status);
        Assert.True(result.Oversized);
    }

    [Fact]
    public void Options_Invalid_ReportedInWords()
    {
        var o = new ClamAvOptions { Servers = { "unix:relative" }, Timeout = TimeSpan.Zero, ChunkSize = 10 };
        IReadOnlyList<string> errors = o.Validate();
        Assert.Equal(3, errors.Count);
        Assert.Empty(new ClamAvOptions().Validate());
    }
}
