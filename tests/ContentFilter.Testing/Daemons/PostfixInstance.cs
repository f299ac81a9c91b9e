using System.Globalization;
using System.Text;
using System.Text.Json;
using Xunit;

namespace ContentFilter.Testing.Daemons;

/// <summary>One message in a private Postfix queue (<c>postqueue -j</c>).</summary>
public sealed record PostfixQueueEntry(string QueueName, string QueueId, string Sender, IReadOnlyList<string> Recipients, IReadOnlyList<string> DelayReasons);

/// <summary>
/// A private, real Postfix (master, smtpd, qmgr, cleanup, virtual ...) in a temporary directory: its own main.cf,
/// master.cf, queue, log file and maildir, listening only on ephemeral loopback ports.
/// </summary>
/// <remarks>
/// The after-queue filter contract is Postfix's (FILTER_README), so the end-to-end tests drive the real thing:
/// an internet-facing smtpd, <c>content_filter</c> toward the service, and the reinjection smtpd it hands mail back
/// to. Several instances run side by side (distinct directories and ports); nothing under /etc/postfix is touched,
/// and only the master whose pid file this instance owns is ever stopped. Needs root (Postfix drops to its
/// <c>mail_owner</c> itself), as in CI; <see cref="SkipUnlessAvailable"/> skips elsewhere.
/// </remarks>
public sealed class PostfixInstance : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private static readonly HashSet<PostfixInstance> s_live = new();
    private readonly PostfixOptions _options;
    private bool _reinjectionEnabled = true;
    private bool _running;

    static PostfixInstance()
    {
        // A test host that dies without disposing must not leave masters behind: stop ours (by pid) on the way out.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (s_live)
            {
                foreach (PostfixInstance instance in s_live)
                {
                    if (instance.MasterPid is int pid)
                    {
                        _ = kill(pid, 15);
                    }
                }
            }
        };
    }

    private PostfixInstance(PostfixOptions options, string root)
    {
        _options = options;
        RootDirectory = root;
        int[] ports = TestPaths.FreePorts(2);
        SmtpPort = ports[0];
        ReinjectPort = options.ReinjectionListener ? ports[1] : 0;
    }

    /// <summary>The instance's temporary directory.</summary>
    public string RootDirectory { get; }

    /// <summary>Where main.cf and master.cf are (<c>postfix -c</c>).</summary>
    public string ConfigDirectory => Path.Combine(RootDirectory, "etc");

    /// <summary><c>queue_directory</c>.</summary>
    public string QueueDirectory => Path.Combine(RootDirectory, "queue");

    /// <summary><c>maillog_file</c>.</summary>
    public string LogFile => Path.Combine(RootDirectory, "log", "maillog");

    /// <summary>The maildir every recipient of <see cref="Domain"/> is delivered to.</summary>
    public string Maildir => Path.Combine(RootDirectory, "mail", "inbox");

    /// <summary>The delivered-to domain.</summary>
    public string Domain => _options.Domain;

    /// <summary>The internet-facing smtpd's port.</summary>
    public int SmtpPort { get; }

    /// <summary>The reinjection smtpd's port (0 when not configured).</summary>
    public int ReinjectPort { get; }

    /// <summary>The master's pid, from <c>&lt;queue&gt;/pid/master.pid</c> (space padded); null when not running.</summary>
    public int? MasterPid
    {
        get
        {
            string? text = LockedFile.ReadAllText(Path.Combine(QueueDirectory, "pid", "master.pid"));
            if (text is null)
            {
                return null;
            }
            return int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int pid) && ProcStatus.IsAlive(pid) ? pid : null;
        }
    }

    /// <summary>Skips the test unless Postfix is installed and we are root (needed to start a master).</summary>
    public static void SkipUnlessAvailable()
    {
        Skip.IfNot(ExternalCommand.Exists("/usr/sbin/postfix"), "Postfix is not installed (scripts/install-test-deps installs it)");
        Skip.IfNot(Environment.IsPrivilegedProcess, "a private Postfix master needs root");
    }

    /// <summary>Writes the configuration, starts the master and waits until the smtpd listeners accept connections.</summary>
    public static async Task<PostfixInstance> StartAsync(PostfixOptions? options = null, CancellationToken cancellationToken = default)
    {
        SkipUnlessAvailable();
        string root = Directory.CreateTempSubdirectory("cf-postfix-").FullName;
        // Postfix's daemons run as mail_owner and virtual(8) as the mailbox uid: they must be able to walk the path.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        var instance = new PostfixInstance(options ?? new PostfixOptions(), root);
        try
        {
            await instance.StartAsync(cancellationToken);
            return instance;
        }
        catch
        {
            await instance.DisposeAsync();
            throw;
        }
    }

    /// <summary>(Re)starts the master with the current configuration and waits for its listeners.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(ConfigDirectory);
        Directory.CreateDirectory(QueueDirectory);
        Directory.CreateDirectory(Path.GetDirectoryName(LogFile)!);
        string mailBase = Path.Combine(RootDirectory, "mail");
        Directory.CreateDirectory(mailBase);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(mailBase, (UnixFileMode)0x1FF); // 0777: virtual(8) creates the maildir as uid 65534
        }
        WriteConfiguration();
        lock (s_live)
        {
            s_live.Add(this);
        }
        _running = true;
        await Postfix("start");
        await Poll.UntilAsync(() => MasterPid is not null, TimeSpan.FromSeconds(30), $"the Postfix master of {RootDirectory}", cancellationToken: cancellationToken);
        await Poll.UntilListeningAsync(SmtpPort, TimeSpan.FromSeconds(30), $"Postfix smtpd on {SmtpPort}", cancellationToken);
        if (ReinjectPort != 0 && _reinjectionEnabled)
        {
            await Poll.UntilListeningAsync(ReinjectPort, TimeSpan.FromSeconds(30), $"Postfix reinjection smtpd on {ReinjectPort}", cancellationToken);
        }
    }

    /// <summary><c>postfix stop</c>, then waits for the master to exit.</summary>
    public async Task StopAsync()
    {
        if (!_running)
        {
            return;
        }
        int? pid = MasterPid;
        await ExternalCommand.RunAsync("/usr/sbin/postfix", ["-c", ConfigDirectory, "stop"], CommandTimeout);
        if (pid is int p && !await ProcStatus.WaitForExitAsync(p, TimeSpan.FromSeconds(20)))
        {
            await ExternalCommand.RunAsync("/usr/sbin/postfix", ["-c", ConfigDirectory, "abort"], CommandTimeout);
            await ProcStatus.WaitForExitAsync(p, TimeSpan.FromSeconds(10));
        }
        _running = false;
        lock (s_live)
        {
            s_live.Remove(this);
        }
    }

    /// <summary><c>postfix flush</c>: attempt every deferred message now.</summary>
    public Task FlushAsync() => Postfix("flush");

    /// <summary><c>postfix reload</c>: re-read main.cf and master.cf.</summary>
    public Task ReloadAsync() => Postfix("reload");

    /// <summary>
    /// Closes (false) or reopens (true) the reinjection smtpd by rewriting master.cf and reloading: the filter's
    /// next hop goes down while Postfix itself keeps running and queueing.
    /// </summary>
    public async Task SetReinjectionEnabledAsync(bool enabled)
    {
        if (ReinjectPort == 0)
        {
            throw new InvalidOperationException("this instance has no reinjection listener");
        }
        _reinjectionEnabled = enabled;
        WriteConfiguration();
        await ReloadAsync();
        if (enabled)
        {
            await Poll.UntilListeningAsync(ReinjectPort, TimeSpan.FromSeconds(30), $"Postfix reinjection smtpd on {ReinjectPort}");
        }
        else
        {
            await Poll.UntilAsync(async () => !await Poll.IsListeningAsync(ReinjectPort), TimeSpan.FromSeconds(30), $"Postfix reinjection smtpd on {ReinjectPort} to close");
        }
    }

    /// <summary>Adds <c>name = value</c> lines to main.cf (later lines win) and reloads a running instance.</summary>
    /// <remarks>Kept in the options, so a later rewrite of the configuration (restart, reinjection toggle) keeps them.</remarks>
    public async Task SetMainCfAsync(params string[] settings)
    {
        _options.MainCf.AddRange(settings);
        WriteConfiguration();
        if (_running)
        {
            await ReloadAsync();
        }
    }

    /// <summary>The whole log so far.</summary>
    public string ReadLog()
    {
        try
        {
            using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return string.Empty;
        }
        catch (DirectoryNotFoundException)
        {
            return string.Empty;
        }
    }

    /// <summary>Log lines matching <paramref name="predicate"/>.</summary>
    public IReadOnlyList<string> LogLines(Func<string, bool> predicate) =>
        ReadLog().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(predicate).ToList();

    /// <summary>Waits until a log line matches, and returns the first that does.</summary>
    public async Task<string> WaitForLogAsync(Func<string, bool> predicate, TimeSpan timeout, string what, CancellationToken cancellationToken = default)
    {
        string? found = null;
        try
        {
            await Poll.UntilAsync(() => (found = LogLines(predicate).FirstOrDefault()) is not null, timeout, what, TimeSpan.FromMilliseconds(100), cancellationToken);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + "\n" + Diagnostics(), ex);
        }
        return found!;
    }

    /// <summary>Paths of the delivered messages (maildir <c>new/</c> and <c>cur/</c>), oldest first.</summary>
    public IReadOnlyList<string> DeliveredFiles()
    {
        var files = new List<FileInfo>();
        foreach (string sub in new[] { "new", "cur" })
        {
            string dir = Path.Combine(Maildir, sub);
            if (Directory.Exists(dir))
            {
                files.AddRange(new DirectoryInfo(dir).GetFiles());
            }
        }
        return files.OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal).Select(f => f.FullName).ToList();
    }

    /// <summary>Waits until at least <paramref name="count"/> messages are in the maildir and returns all of them (bytes as delivered).</summary>
    public async Task<IReadOnlyList<byte[]>> WaitForDeliveriesAsync(int count, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await Poll.UntilAsync(() => DeliveredFiles().Count >= count, timeout, $"{count} message(s) in {Maildir}", TimeSpan.FromMilliseconds(50), cancellationToken);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + "\n" + Diagnostics(), ex);
        }
        return DeliveredFiles().Select(File.ReadAllBytes).ToList();
    }

    /// <summary>The queue as <c>postqueue -j</c> lists it (active, deferred, hold, incoming).</summary>
    public async Task<IReadOnlyList<PostfixQueueEntry>> ListQueueAsync()
    {
        CommandResult r = (await ExternalCommand.RunAsync("/usr/sbin/postqueue", ["-c", ConfigDirectory, "-j"], CommandTimeout)).EnsureSuccess();
        var entries = new List<PostfixQueueEntry>();
        foreach (string line in r.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            var recipients = new List<string>();
            var reasons = new List<string>();
            foreach (JsonElement rcpt in e.GetProperty("recipients").EnumerateArray())
            {
                recipients.Add(rcpt.GetProperty("address").GetString() ?? string.Empty);
                if (rcpt.TryGetProperty("delay_reason", out JsonElement reason))
                {
                    reasons.Add(reason.GetString() ?? string.Empty);
                }
            }
            entries.Add(new PostfixQueueEntry(
                e.GetProperty("queue_name").GetString() ?? string.Empty,
                e.GetProperty("queue_id").GetString() ?? string.Empty,
                e.GetProperty("sender").GetString() ?? string.Empty,
                recipients,
                reasons));
        }
        return entries;
    }

    /// <summary><c>postqueue -p</c> as text (for failure messages).</summary>
    public async Task<string> QueueListingAsync() =>
        (await ExternalCommand.RunAsync("/usr/sbin/postqueue", ["-c", ConfigDirectory, "-p"], CommandTimeout)).StandardOutput;

    /// <summary>Waits until the queue is empty.</summary>
    public async Task WaitForEmptyQueueAsync(TimeSpan timeout)
    {
        try
        {
            await Poll.UntilAsync(async () => (await ListQueueAsync()).Count == 0, timeout, $"the queue of {RootDirectory} to empty", TimeSpan.FromMilliseconds(200));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException(ex.Message + "\n" + Diagnostics(), ex);
        }
    }

    /// <summary>The last lines of the log, for assertion messages.</summary>
    public string Diagnostics(int lines = 60)
    {
        string[] all = ReadLog().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return $"--- Postfix log {LogFile} (last {lines} lines) ---\n" + string.Join('\n', all.TakeLast(lines));
    }

    /// <summary>Stops the master and deletes the directory (kept when <c>CF_KEEP_TEST_DIRS=1</c>).</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
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
    }

    private async Task Postfix(string verb)
    {
        CommandResult r = await ExternalCommand.RunAsync("/usr/sbin/postfix", ["-c", ConfigDirectory, verb], CommandTimeout);
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"postfix {verb} failed ({r.ExitCode}): {r.StandardOutput}{r.StandardError}\n{Diagnostics()}");
        }
    }

    private void WriteConfiguration()
    {
        File.WriteAllText(Path.Combine(ConfigDirectory, "main.cf"), MainCf());
        File.WriteAllText(Path.Combine(ConfigDirectory, "master.cf"), MasterCf());
    }

    private string MainCf()
    {
        var sb = new StringBuilder();
        void Line(string s) => sb.Append(s).Append('\n');
        Line("# private test instance written by ContentFilter.Testing.Daemons.PostfixInstance");
        Line("compatibility_level = 3.6");
        Line($"queue_directory = {QueueDirectory}");
        Line($"data_directory = {Path.Combine(RootDirectory, "data")}");
        Line($"maillog_file = {LogFile}");
        Line($"maillog_file_prefixes = {Path.GetDirectoryName(LogFile)}");
        Line($"myhostname = {_options.HostName}");
        Line("mydomain = postfix.test");
        Line("myorigin = $myhostname");
        Line("mydestination =");
        Line("inet_interfaces = 127.0.0.1");
        Line("inet_protocols = ipv4");
        Line("mynetworks = 127.0.0.0/8");
        Line("alias_maps =");
        Line("alias_database =");
        Line("smtp_dns_support_level = disabled");
        Line("smtpd_peername_lookup = no");
        Line("biff = no");
        // No rewriting of header addresses for our own clients: a byte-exact test must get back what it sent.
        Line("local_header_rewrite_clients =");
        Line("smtputf8_enable = yes");
        Line($"message_size_limit = {_options.MessageSizeLimit.ToString(CultureInfo.InvariantCulture)}");
        Line($"virtual_mailbox_domains = {_options.Domain}");
        Line($"virtual_mailbox_base = {Path.Combine(RootDirectory, "mail")}");
        Line("virtual_mailbox_maps = static:inbox/");
        Line("virtual_uid_maps = static:65534");
        Line("virtual_gid_maps = static:65534");
        Line("virtual_mailbox_limit = 0");
        Line($"queue_run_delay = {_options.QueueRunDelay}");
        Line($"minimal_backoff_time = {_options.MinimalBackoffTime}");
        Line($"maximal_backoff_time = {_options.MaximalBackoffTime}");
        Line("smtp_connect_timeout = 10s");
        if (_options.ContentFilterPort is int filterPort)
        {
            Line($"content_filter = cfilter:[127.0.0.1]:{filterPort.ToString(CultureInfo.InvariantCulture)}");
            Line("receive_override_options = no_address_mappings");
        }
        foreach (string extra in _options.MainCf)
        {
            Line(extra);
        }
        return sb.ToString();
    }

    private string MasterCf()
    {
        var sb = new StringBuilder();
        void Line(string s) => sb.Append(s).Append('\n');
        void Overrides(IEnumerable<string> overrides)
        {
            foreach (string o in overrides)
            {
                Line($"  -o {o}");
            }
        }
        Line("# service type  private unpriv chroot wakeup maxproc command");
        Line($"127.0.0.1:{SmtpPort.ToString(CultureInfo.InvariantCulture)} inet n - n - - smtpd");
        Overrides(_options.SmtpdOverrides);
        if (ReinjectPort != 0 && _reinjectionEnabled)
        {
            // FILTER_README's reinjection smtpd (PROTOCOLS.md §1): no content_filter (no loop), trust XFORWARD from loopback.
            Line($"127.0.0.1:{ReinjectPort.ToString(CultureInfo.InvariantCulture)} inet n - n - 10 smtpd");
            Overrides([
                "syslog_name=postfix/reinject",
                "content_filter=",
                "receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters",
                "smtpd_helo_restrictions=",
                "smtpd_client_restrictions=",
                "smtpd_sender_restrictions=",
                "smtpd_relay_restrictions=",
                "smtpd_recipient_restrictions=permit_mynetworks,reject",
                "mynetworks=127.0.0.0/8",
                "smtpd_authorized_xforward_hosts=127.0.0.0/8",
                "smtpd_milters=",
            ]);
            Overrides(_options.ReinjectionOverrides);
        }
        if (_options.ContentFilterPort is not null)
        {
            Line($"cfilter unix - - n - 10 {_options.FilterTransport}");
            Overrides([
                "syslog_name=postfix/cfilter",
                $"{_options.FilterTransport}_send_xforward_command=yes",
                "disable_mime_output_conversion=yes",
                $"{_options.FilterTransport}_generic_maps=",
                $"{_options.FilterTransport}_data_done_timeout=1200s",
            ]);
            Overrides(_options.FilterTransportOverrides);
        }
        foreach (string service in StandardServices)
        {
            Line(service);
        }
        foreach (string extra in _options.MasterCf)
        {
            Line(extra);
        }
        return sb.ToString();
    }

    // Debian's master.cf services, unchrooted (chroot would need a copy of /etc and libraries inside the queue).
    private static readonly string[] StandardServices =
    [
        "pickup unix n - n 60 1 pickup",
        "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",
        "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",
        "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",
        "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush",
        "proxymap unix - - n - - proxymap",
        "proxywrite unix - - n - 1 proxymap",
        "smtp unix - - n - - smtp",
        "relay unix - - n - - smtp",
        "showq unix n - n - - showq",
        "error unix - - n - - error",
        "retry unix - - n - - error",
        "discard unix - - n - - discard",
        "local unix - n n - - local",
        "virtual unix - n n - - virtual",
        "lmtp unix - - n - - lmtp",
        "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",
        "postlog unix-dgram n - n - 1 postlogd",
    ];

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
