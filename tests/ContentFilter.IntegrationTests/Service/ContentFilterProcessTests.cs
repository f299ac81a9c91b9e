using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.Service;

/// <summary>The service-process fixture against the real binary: its generated configuration and its process control.</summary>
public sealed class ContentFilterProcessTests
{
    [SkippableFact]
    public async Task ContentFilterProcess_DefaultConfig_PassesCheckConfig()
    {
        await using var filter = new ContentFilterProcess(nextHopPort: Testing.TestPaths.FreePort(), ServiceSections.IsKnown);
        filter.Set("Limits:MaxMessageSize", 200_000_000);

        CommandResult result = await filter.CheckConfigAsync();

        Assert.True(result.ExitCode == 0, result.StandardOutput + result.StandardError);
        Assert.Contains($"127.0.0.1:{filter.InboundPort}", result.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("200000000", result.StandardOutput, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task ContentFilterProcess_UnknownKey_IsRefusedByCheckConfig()
    {
        // Proves the fixture's settings are really read: a typo must fail, not silently default.
        await using var filter = new ContentFilterProcess(nextHopPort: Testing.TestPaths.FreePort(), ServiceSections.IsKnown);
        filter.Set("Spool:Directroy", "/tmp/x");

        CommandResult result = await filter.CheckConfigAsync();

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Spool:Directroy", result.StandardError, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task ContentFilterProcess_StartStopAndKill_ControlTheRealProcess()
    {
        await using var filter = new ContentFilterProcess(nextHopPort: Testing.TestPaths.FreePort(), ServiceSections.IsKnown);
        await filter.StartAsync();
        int pid = filter.Pid ?? throw new InvalidOperationException("not running\n" + filter.Diagnostics());
        Assert.True(filter.PeakRssBytes() > 0);
        await using (RssSampler sampler = filter.StartRssSampler())
        {
            await Testing.Poll.UntilAsync(() => sampler.PeakBytes > 0, TimeSpan.FromSeconds(5), "an RSS sample");
        }

        filter.Kill();
        Assert.False(ProcStatus.IsAlive(pid));
        Assert.Null(filter.Pid);

        await filter.StartAsync();
        Assert.NotEqual(pid, filter.Pid);
        int? exit = await filter.StopAsync();
        Assert.True(exit == 0, $"SIGTERM should end the service cleanly, exit {exit}\n{filter.Diagnostics()}");
    }
}
