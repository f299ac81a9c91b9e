using System.Diagnostics;

namespace ContentFilter.Frontends.Tests.Delivery;

/// <summary>
/// A private Postfix 3.7 instance (TESTKIT.md) whose smtpd listens on a unix socket in its own queue folder and
/// delivers everything for <c>test.example</c> into one maildir. Used to show what a real, bare-LF-tolerant next hop
/// makes of our DATA stream. Stopped with <c>postfix -c DIR stop</c> (its own master only).
/// </summary>
internal sealed class PrivatePostfix : IAsyncDisposable
{
    private readonly string _root;

    private PrivatePostfix(string root)
    {
        _root = root;
    }

    public static bool IsAvailable => File.Exists("/usr/sbin/postfix") && File.Exists("/usr/lib/postfix/sbin/master") && Environment.UserName == "root";

    /// <summary>The smtpd's unix socket as a next-hop end point.</summary>
    public string Endpoint => "unix:" + Path.Combine(_root, "queue", "public", "smtpin");

    public string Maildir => Path.Combine(_root, "mail", "inbox", "new");

    public static async Task<PrivatePostfix> StartAsync()
    {
        string root = Path.Combine(Path.GetTempPath(), "cf-reinject-pf-" + Guid.NewGuid().ToString("N")[..8]);
        foreach (string d in new[] { "etc", "queue", "data", "mail/inbox/new", "mail/inbox/cur", "mail/inbox/tmp" })
        {
            Directory.CreateDirectory(Path.Combine(root, d));
        }
        await File.WriteAllTextAsync(Path.Combine(root, "etc", "main.cf"), $"""
            compatibility_level = 3.6
            queue_directory = {root}/queue
            data_directory = {root}/data
            mail_owner = postfix
            myhostname = pf.test.example
            mydomain = test.example
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            alias_maps =
            alias_database =
            smtp_dns_support_level = disabled
            smtpd_peername_lookup = no
            maillog_file = {root}/maillog
            maillog_file_prefixes = {root}
            mynetworks = 127.0.0.0/8
            smtpd_authorized_xforward_hosts = 127.0.0.0/8
            virtual_mailbox_domains = test.example
            virtual_mailbox_base = {root}/mail
            virtual_mailbox_maps = static:inbox/
            virtual_uid_maps = static:65534
            virtual_gid_maps = static:65534
            virtual_mailbox_limit = 0
            """);
        string[] services =
        {
            "smtpin unix n - n - - smtpd",
            "pickup unix n - n 60 1 pickup",
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "showq unix n - n - - showq",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "local unix - n n - - local",
            "virtual unix - n n - - virtual",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
        };
        await File.WriteAllLinesAsync(Path.Combine(root, "etc", "master.cf"), services);
        await RunAsync("chown", "postfix", Path.Combine(root, "data"));
        await RunAsync("chown", "-R", "65534:65534", Path.Combine(root, "mail"));
        var pf = new PrivatePostfix(root);
        await RunAsync("/usr/sbin/postfix", "-c", Path.Combine(root, "etc"), "start");
        string socket = pf.Endpoint[5..];
        for (int i = 0; i < 1000 && !File.Exists(socket); i++)
        {
            await Task.Delay(10);
        }
        if (!File.Exists(socket))
        {
            await pf.DisposeAsync();
            throw new TimeoutException("private Postfix did not start");
        }
        return pf;
    }

    /// <summary>Waits (bounded) for <paramref name="count"/> delivered files, then a little longer to catch extras.</summary>
    public async Task<string[]> WaitForDeliveriesAsync(int count, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (Directory.GetFiles(Maildir).Length < count && watch.Elapsed < timeout)
        {
            await Task.Delay(50);
        }
        await Task.Delay(1000); // a smuggled second message is queued at the same moment; give it time to appear
        return Directory.GetFiles(Maildir).OrderBy(f => f, StringComparer.Ordinal).ToArray();
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: {await err}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunAsync("/usr/sbin/postfix", "-c", Path.Combine(_root, "etc"), "stop");
        }
        catch (Exception)
        {
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception)
        {
        }
    }
}
