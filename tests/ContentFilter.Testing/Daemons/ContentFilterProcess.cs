using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace ContentFilter.Testing.Daemons;

/// <summary>
/// The real <c>contentfilter</c> service as a child process: its own temp directory, config file, spool, audit file
/// and ephemeral loopback ports; stdout/stderr captured to files.
/// </summary>
/// <remarks>
/// End-to-end tests must exercise what admins run (config loading, DI wiring, listeners, shutdown), and crash tests
/// need a process that can really be SIGKILLed. The default configuration turns every check off and the milter and
/// policy listeners off, so a test enables exactly what it is about with <see cref="Set"/> or <see cref="Configure"/>.
/// </remarks>
public sealed class ContentFilterProcess : IAsyncDisposable
{
    private const int SIGKILL = 9;
    private const int SIGTERM = 15;
    private readonly Func<string, string?, bool> _isKnown;
    private Process? _process;

    /// <summary>Prepares (does not start) an instance whose next hop is 127.0.0.1:<paramref name="nextHopPort"/>.</summary>
    /// <param name="nextHopPort">The reinjection port (a Postfix reinjection smtpd, or a closed port for failure tests).</param>
    /// <param name="isKnown">
    /// Whether the service under test knows a top-level section (key null) or a key of it. Unknown keys are
    /// configuration errors, so the "check off" switches (<see cref="CheckSwitches"/>) are written only where the
    /// service knows them; null = assume all are known.
    /// </param>
    /// <param name="binary">Path of <c>contentfilter.dll</c>; default: beside the test assembly.</param>
    public ContentFilterProcess(int nextHopPort, Func<string, string?, bool>? isKnown = null, string? binary = null)
    {
        _isKnown = isKnown ?? ((_, _) => true);
        RootDirectory = Directory.CreateTempSubdirectory("cf-service-").FullName;
        Binary = binary ?? Path.Combine(AppContext.BaseDirectory, "contentfilter.dll");
        int[] ports = TestPaths.FreePorts(2);
        InboundPort = ports[0];
        OriginatingPort = ports[1];
        NextHopPort = nextHopPort;
        Config = DefaultConfig();
    }

    /// <summary>Switches the default configuration sets to false wherever the service knows them: every check off, no metrics port.</summary>
    public static IReadOnlyList<(string Section, string Key)> CheckSwitches { get; } =
    [
        ("Antivirus", "Enabled"), ("Spam", "Enabled"), ("Banned", "Enabled"), ("Dkim", "Verify"), ("Spf", "Enabled"),
        ("Dmarc", "Enabled"), ("Arc", "Verify"), ("Metrics", "Enabled"),
    ];

    /// <summary>The instance's temp directory.</summary>
    public string RootDirectory { get; }

    /// <summary>The service assembly run with <c>dotnet</c>.</summary>
    public string Binary { get; }

    /// <summary>The configuration written at start; edit it freely before <see cref="StartAsync"/>.</summary>
    public JsonObject Config { get; }

    /// <summary>Inbound proxy listener port.</summary>
    public int InboundPort { get; }

    /// <summary>Originating proxy listener port.</summary>
    public int OriginatingPort { get; }

    /// <summary>The next hop's port as configured.</summary>
    public int NextHopPort { get; private set; }

    /// <summary>Environment variables set for the process (e.g. <c>NOTIFY_SOCKET</c>), applied at <see cref="StartAsync"/>.</summary>
    public IDictionary<string, string> ExtraEnvironment { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>The config file path.</summary>
    public string ConfigFile => Path.Combine(RootDirectory, "contentfilter.json");

    /// <summary><c>Spool:Directory</c>.</summary>
    public string SpoolDirectory => Path.Combine(RootDirectory, "spool");

    /// <summary><c>Audit:File</c>.</summary>
    public string AuditFile => Path.Combine(RootDirectory, "audit.json");

    /// <summary>Captured standard output.</summary>
    public string StdoutFile => Path.Combine(RootDirectory, "stdout.log");

    /// <summary>Captured standard error.</summary>
    public string StderrFile => Path.Combine(RootDirectory, "stderr.log");

    /// <summary>The running process's id, or null.</summary>
    public int? Pid => _process is { } p && ProcStatus.IsAlive(p.Id) ? p.Id : null;

    /// <summary>Skips the test unless <c>dotnet</c> and the service assembly are there.</summary>
    public void SkipUnlessAvailable()
    {
        Skip.IfNot(File.Exists(Binary), $"service assembly not built: {Binary}");
    }

    /// <summary>Sets one value by a <c>Section:Key[:Key...]</c> path (creating objects on the way), e.g. <c>("Limits:MaxMessageSize", 200_000_000)</c>.</summary>
    public ContentFilterProcess Set(string path, JsonNode? value)
    {
        string[] parts = path.Split(':');
        JsonObject node = Config;
        foreach (string part in parts[..^1])
        {
            if (node[part] is not JsonObject child)
            {
                child = new JsonObject();
                node[part] = child;
            }
            node = child;
        }
        node[parts[^1]] = value;
        return this;
    }

    /// <summary>Edits the configuration object directly (merge whole sections, remove keys ...).</summary>
    public ContentFilterProcess Configure(Action<JsonObject> edit)
    {
        edit(Config);
        return this;
    }

    /// <summary>Points the next hop somewhere else (takes effect at the next start).</summary>
    public void SetNextHopPort(int port)
    {
        NextHopPort = port;
        Set("NextHop:Endpoint", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Writes the config, starts the process and waits (up to 30 s) until every enabled proxy listener accepts connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        SkipUnlessAvailable();
        if (Pid is not null)
        {
            throw new InvalidOperationException("already running");
        }
        Directory.CreateDirectory(SpoolDirectory);
        await File.WriteAllTextAsync(ConfigFile, Config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // Append, so a restart keeps what the killed instance said; exec keeps the pid the service's own.
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec \"$0\" \"$@\" </dev/null >>'{StdoutFile}' 2>>'{StderrFile}'");
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(Binary);
        psi.ArgumentList.Add("run");
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(ConfigFile);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (string key in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("CONTENTFILTER_", StringComparison.Ordinal)))
        {
            psi.Environment.Remove(key); // the test's configuration is the file, nothing else
        }
        foreach (string key in new[] { "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID" })
        {
            psi.Environment.Remove(key); // a service manager above the test run is not this instance's
        }
        foreach ((string key, string value) in ExtraEnvironment)
        {
            psi.Environment[key] = value;
        }
        _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet");
        try
        {
            foreach (int port in ListenerPorts())
            {
                await Poll.UntilAsync(
                    async () =>
                    {
                        if (_process.HasExited)
                        {
                            throw new InvalidOperationException($"contentfilter exited with {_process.ExitCode} before listening on {port}\n{Diagnostics()}");
                        }
                        return await Poll.IsListeningAsync(port);
                    },
                    TimeSpan.FromSeconds(30),
                    $"contentfilter to listen on 127.0.0.1:{port}",
                    TimeSpan.FromMilliseconds(50),
                    cancellationToken);
            }
        }
        catch (TimeoutException ex)
        {
            Kill();
            throw new TimeoutException(ex.Message + "\n" + Diagnostics(), ex);
        }
    }

    /// <summary>Runs <c>contentfilter check-config</c> on the configuration as it stands (written to the config file first).</summary>
    public async Task<CommandResult> CheckConfigAsync()
    {
        SkipUnlessAvailable();
        await File.WriteAllTextAsync(ConfigFile, Config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return await ExternalCommand.RunAsync("dotnet", [Binary, "check-config", "--config", ConfigFile], TimeSpan.FromSeconds(60));
    }

    /// <summary>SIGTERM, then waits for a clean exit (SIGKILL after <paramref name="timeout"/>, default 40 s). Returns the exit code, or null if it had to be killed.</summary>
    public async Task<int?> StopAsync(TimeSpan? timeout = null)
    {
        if (_process is null || _process.HasExited)
        {
            return _process?.HasExited == true ? _process.ExitCode : null;
        }
        _ = kill(_process.Id, SIGTERM);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(40));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Kill();
            return null;
        }
    }

    /// <summary>SIGKILL by pid (a crash: no drain, no cleanup), and waits until it is gone.</summary>
    public void Kill()
    {
        if (_process is null || _process.HasExited)
        {
            return;
        }
        _ = kill(_process.Id, SIGKILL);
        _process.WaitForExit(TimeSpan.FromSeconds(30));
    }

    /// <summary>Peak resident set size so far (<c>VmHWM</c>), or null when not running.</summary>
    public long? PeakRssBytes() => Pid is int pid ? ProcStatus.PeakRssBytes(pid) : null;

    /// <summary>Starts sampling the peak RSS every <paramref name="interval"/> (default 50 ms); the sampler keeps the last value seen after the process exits.</summary>
    public RssSampler StartRssSampler(TimeSpan? interval = null) =>
        new(Pid ?? throw new InvalidOperationException("not running"), interval ?? TimeSpan.FromMilliseconds(50));

    /// <summary>The audit records written so far: the <c>Audit</c> object of each JSON line (the whole line when it has none).</summary>
    public IReadOnlyList<JsonObject> AuditRecords()
    {
        var records = new List<JsonObject>();
        if (!File.Exists(AuditFile))
        {
            return records;
        }
        using var stream = new FileStream(AuditFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0)
            {
                continue;
            }
            JsonObject obj;
            try
            {
                obj = JsonNode.Parse(line)!.AsObject();
            }
            catch (JsonException)
            {
                continue; // a line being written right now
            }
            records.Add(obj["Audit"] is JsonObject audit ? audit : obj);
        }
        return records;
    }

    /// <summary>Waits until at least <paramref name="count"/> audit records exist (the sink flushes within a second).</summary>
    public async Task<IReadOnlyList<JsonObject>> WaitForAuditRecordsAsync(int count, TimeSpan timeout)
    {
        await Poll.UntilAsync(() => AuditRecords().Count >= count, timeout, $"{count} audit record(s) in {AuditFile}", TimeSpan.FromMilliseconds(100));
        return AuditRecords();
    }

    /// <summary>Files in the spool directory now (recursive), for crash and cleanup tests.</summary>
    public IReadOnlyList<FileInfo> SpoolFiles() =>
        Directory.Exists(SpoolDirectory) ? new DirectoryInfo(SpoolDirectory).GetFiles("*", SearchOption.AllDirectories) : [];

    /// <summary>The captured output, for assertion messages.</summary>
    public string Diagnostics()
    {
        static string Tail(string file)
        {
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var reader = new StreamReader(stream);
                string[] lines = reader.ReadToEnd().Split('\n');
                return string.Join('\n', lines.TakeLast(60));
            }
            catch (IOException)
            {
                return "(none)";
            }
        }
        return $"--- contentfilter stdout ---\n{Tail(StdoutFile)}\n--- contentfilter stderr ---\n{Tail(StderrFile)}";
    }

    /// <summary>Kills the process if still running and deletes the directory (kept when <c>CF_KEEP_TEST_DIRS=1</c>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_process is not null && !_process.HasExited)
        {
            await StopAsync(TimeSpan.FromSeconds(10));
        }
        _process?.Dispose();
        if (Environment.GetEnvironmentVariable("CF_KEEP_TEST_DIRS") != "1")
        {
            try
            {
                Directory.Delete(RootDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private IEnumerable<int> ListenerPorts()
    {
        if (Config["Listeners"] is not JsonObject listeners)
        {
            yield break;
        }
        foreach (var (_, node) in listeners)
        {
            if (node is JsonObject l && l["Enabled"]?.GetValue<bool>() != false && l["Endpoint"]?.GetValue<string>() is string ep
                && ep.StartsWith("127.0.0.1:", StringComparison.Ordinal))
            {
                yield return int.Parse(ep["127.0.0.1:".Length..], CultureInfo.InvariantCulture);
            }
        }
    }

    private JsonObject DefaultConfig()
    {
        string P(int port) => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
        var config = new JsonObject
        {
            ["HostName"] = "filter.test",
            ["Listeners"] = new JsonObject
            {
                ["inbound"] = new JsonObject { ["Endpoint"] = P(InboundPort), ["Protocol"] = "Smtp", ["Direction"] = "Inbound" },
                ["originating"] = new JsonObject { ["Endpoint"] = P(OriginatingPort), ["Protocol"] = "Smtp", ["Direction"] = "Originating" },
                ["milter"] = new JsonObject { ["Enabled"] = false },
                ["policy"] = new JsonObject { ["Enabled"] = false },
            },
            ["NextHop"] = new JsonObject { ["Endpoint"] = P(NextHopPort) },
            ["Spool"] = new JsonObject { ["Directory"] = SpoolDirectory },
            ["Audit"] = new JsonObject { ["File"] = AuditFile },
            ["Logging"] = new JsonObject { ["Level"] = "Debug" },
        };
        if (_isKnown("LocalDomains", "Domains"))
        {
            config["LocalDomains"] = new JsonObject { ["Domains"] = new JsonArray("dest.test") };
        }
        // Every path the service writes goes into this instance's directory, never /var/lib.
        foreach (var (section, key, file) in new[] { ("Quarantine", "Directory", "quarantine"), ("Greylist", "SqlitePath", "greylist.db") })
        {
            if (_isKnown(section, null) && _isKnown(section, key))
            {
                config[section] = new JsonObject { [key] = Path.Combine(RootDirectory, file) };
            }
        }
        foreach (var (section, key) in CheckSwitches)
        {
            if (_isKnown(section, null) && _isKnown(section, key))
            {
                if (config[section] is not JsonObject obj)
                {
                    obj = new JsonObject();
                    config[section] = obj;
                }
                obj[key] = false;
            }
        }
        return config;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
