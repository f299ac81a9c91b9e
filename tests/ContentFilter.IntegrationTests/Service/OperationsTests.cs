using System.Diagnostics;
using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.Service;

/// <summary>Operations against the REAL service process: live reload with SIGHUP and <c>contentfilter status</c>.</summary>
public sealed class OperationsTests
{
    private static async Task<string> SendWithSwaksAsync(int port, string subject)
    {
        var psi = new ProcessStartInfo("swaks", $"--server 127.0.0.1:{port} --from a@example.org --to b@dest.test --header \"Subject: {subject}\" --timeout 30")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(psi)!;
        string output = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return output;
    }

    private static async Task<bool> WaitForLogAsync(ContentFilterProcess filter, string text, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(filter.StdoutFile) && File.ReadAllText(filter.StdoutFile).Contains(text, StringComparison.Ordinal))
            {
                return true;
            }
            await Task.Delay(100);
        }
        return false;
    }

    [SkippableFact]
    public async Task Reload_Sighup_BrokenConfigKeepsOldServing_GoodConfigApplies()
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink is not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using var filter = new ContentFilterProcess(sink.Port, ServiceSections.IsKnown);
        filter.SkipUnlessAvailable();
        // The shipped whitelists (a reload re-reads them and refuses files it cannot read).
        filter.Set("Greylist:WhitelistClientFiles", new JsonArray(Path.Combine(TestPaths.RepoRoot, "etc", "whitelist_clients")));
        filter.Set("Greylist:WhitelistRecipientFiles", new JsonArray(Path.Combine(TestPaths.RepoRoot, "etc", "whitelist_recipients")));
        await filter.StartAsync();
        int pid = filter.Pid ?? throw new InvalidOperationException(filter.Diagnostics());
        string goodConfig = await File.ReadAllTextAsync(filter.ConfigFile);

        // A broken file: the reload is refused, naming the key, and the service keeps relaying on the old one.
        JsonObject broken = JsonNode.Parse(goodConfig)!.AsObject();
        broken["Limits"] = new JsonObject { ["MaxRecipients"] = "many" };
        await File.WriteAllTextAsync(filter.ConfigFile, broken.ToJsonString());
        await Process.Start("kill", $"-HUP {pid}")!.WaitForExitAsync();
        Assert.True(await WaitForLogAsync(filter, "Limits:MaxRecipients", TimeSpan.FromSeconds(20)), filter.Diagnostics());
        Assert.Equal(pid, filter.Pid);
        string swaks = await SendWithSwaksAsync(filter.InboundPort, "after broken reload");
        Assert.Contains("250 2.0.0", swaks, StringComparison.Ordinal);
        Assert.Single(await sink.WaitForDumpsAsync(1, TimeSpan.FromSeconds(30)));

        // A good file: applied without a restart.
        await File.WriteAllTextAsync(filter.ConfigFile, goodConfig);
        await Process.Start("kill", $"-HUP {pid}")!.WaitForExitAsync();
        Assert.True(await WaitForLogAsync(filter, "reloaded (generation 1)", TimeSpan.FromSeconds(20)), filter.Diagnostics());
        Assert.Equal(pid, filter.Pid);
        swaks = await SendWithSwaksAsync(filter.InboundPort, "after good reload");
        Assert.Contains("250 2.0.0", swaks, StringComparison.Ordinal);
        Assert.Equal(2, (await sink.WaitForDumpsAsync(2, TimeSpan.FromSeconds(30))).Count);
    }

    [SkippableFact]
    public async Task Status_RunningService_ReportsEachListenerAndThePeers()
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink is not installed");
        SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using var filter = new ContentFilterProcess(sink.Port, ServiceSections.IsKnown);
        filter.SkipUnlessAvailable();
        await filter.StartAsync();

        CommandResult up = await ExternalCommand.RunAsync("dotnet", new[] { filter.Binary, "status", "--config", filter.ConfigFile }, TimeSpan.FromSeconds(60));
        Assert.True(up.ExitCode == 0, up.StandardOutput + up.StandardError);
        Assert.Contains($"ok    listener inbound", up.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"ok    next hop", up.StandardOutput, StringComparison.Ordinal);

        // The next hop gone: status says so and exits 1.
        await sink.DisposeAsync();
        CommandResult down = await ExternalCommand.RunAsync("dotnet", new[] { filter.Binary, "status", "--config", filter.ConfigFile }, TimeSpan.FromSeconds(60));
        Assert.Equal(1, down.ExitCode);
        Assert.Contains("FAIL  next hop", down.StandardOutput, StringComparison.Ordinal);
    }
}
