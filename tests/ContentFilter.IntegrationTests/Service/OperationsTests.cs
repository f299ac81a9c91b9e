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

    [SkippableFact]
    public async Task ServiceManager_NotifySocket_ReadyWatchdogReloadingStopping()
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink is not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using var filter = new ContentFilterProcess(sink.Port, ServiceSections.IsKnown);
        filter.SkipUnlessAvailable();

        // What systemd does for Type=notify with WatchdogSec=: a datagram socket in $NOTIFY_SOCKET, $WATCHDOG_USEC.
        string socketPath = Path.Combine(filter.RootDirectory, "notify.sock");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socketPath));
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var stopReading = new CancellationTokenSource();
        Task reader = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, stopReading.Token);
                    received.Enqueue(System.Text.Encoding.UTF8.GetString(buffer, 0, n));
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        int Count(string text) => received.Count(m => m.Split('\n').Contains(text));
        Task Until(Func<bool> condition, string what) =>
            Poll.UntilAsync(condition, TimeSpan.FromSeconds(30), what + " (got: " + string.Join(" | ", received) + ")\n" + filter.Diagnostics());

        filter.ExtraEnvironment["NOTIFY_SOCKET"] = socketPath;
        filter.ExtraEnvironment["WATCHDOG_USEC"] = "400000";
        await filter.StartAsync();
        int pid = filter.Pid ?? throw new InvalidOperationException(filter.Diagnostics());

        await Until(() => Count("READY=1") == 1, "READY=1");
        await Until(() => Count("WATCHDOG=1") >= 3, "three watchdog pings");

        await Process.Start("kill", $"-HUP {pid}")!.WaitForExitAsync();
        await Until(() => Count("READY=1") == 2, "READY=1 after the reload");
        string reloading = Assert.Single(received, m => m.StartsWith("RELOADING=1", StringComparison.Ordinal));
        Assert.Matches(@"^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$", reloading);

        Assert.Equal(0, await filter.StopAsync());
        await Until(() => Count("STOPPING=1") == 1, "STOPPING=1");
        await stopReading.CancelAsync();
        await reader;
    }
}
