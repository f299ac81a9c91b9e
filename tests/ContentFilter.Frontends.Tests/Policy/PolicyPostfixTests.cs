using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Frontends.Policy;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Frontends.Tests.Policy;

/// <summary>
/// A real Postfix asks our policy server with <c>check_policy_service</c>: the first delivery is deferred with
/// postgrey's 450 4.2.0 text, the retry after the (short) delay is accepted and carries the X-Greylist header.
/// </summary>
/// <remarks>
/// One private Postfix instance (TESTKIT.md): mail is injected over SMTP on one port, leaves through
/// <c>content_filter = smtp:[127.0.0.1]:RECEIVER</c>, and the receiving smtpd (no <c>permit_mynetworks</c> in its
/// recipient restrictions, so the loopback client is greylisted) delivers to a maildir. Postfix's own queue does
/// the retry. The receiving smtpd uses another myhostname so the smtp client does not see a mail loop.
/// </remarks>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class PolicyPostfixTests
{
    private const string Postfix = "/usr/sbin/postfix";
    private const string Swaks = "/usr/bin/swaks";

    [SkippableFact]
    public async Task RealPostfix_FirstDeliveryGreylisted_RetryDelivered()
    {
        Skip.IfNot(File.Exists(Postfix) && File.Exists(Swaks), "postfix or swaks not installed");
        Skip.IfNot(Environment.UserName == "root", "a private Postfix instance needs root");

        string dir = Directory.CreateTempSubdirectory("cf-pf-grey-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
        var options = new GreylistOptions
        {
            HostName = "mx.test",
            DelaySeconds = 2,
            SqlitePath = Path.Combine(dir, "greylist.db"),
            WhitelistClientFiles = [],
            WhitelistRecipientFiles = [],
        };
        await using var store = new SqliteGreylistStore(options.SqlitePath);
        var engine = new GreylistEngine(options, store, [], TimeProvider.System, NullLogger<GreylistEngine>.Instance);
        var session = new PolicySession(new PolicySessionOptions(), engine, TimeProvider.System, NullLogger<PolicySession>.Instance);
        await using var policy = new PolicyTcpServer(session);

        int inject = FreePort();
        int receiver = FreePort();
        string config = Path.Combine(dir, "etc");
        string log = Path.Combine(dir, "log");
        string mail = Path.Combine(dir, "mail");
        foreach (string d in new[] { config, log, mail, Path.Combine(dir, "queue"), Path.Combine(dir, "data") })
        {
            Directory.CreateDirectory(d);
        }
        await RunAsync("/bin/chown", "postfix", Path.Combine(dir, "data"));
        File.SetUnixFileMode(mail, (UnixFileMode)0b111_111_111);
        File.WriteAllText(Path.Combine(config, "main.cf"), $"""
            compatibility_level = 3.6
            myhostname = sender.test
            mydomain = test
            mydestination =
            inet_interfaces = 127.0.0.1
            inet_protocols = ipv4
            mynetworks = 127.0.0.0/8
            queue_directory = {dir}/queue
            data_directory = {dir}/data
            maillog_file = {log}/maillog
            maillog_file_prefixes = {log}
            alias_maps =
            alias_database =
            smtp_dns_support_level = disabled
            smtpd_peername_lookup = no
            virtual_mailbox_domains = example.net
            virtual_mailbox_base = {mail}
            virtual_mailbox_maps = static:inbox/
            virtual_uid_maps = static:65534
            virtual_gid_maps = static:65534
            virtual_mailbox_limit = 0
            content_filter = smtp:[127.0.0.1]:{receiver}
            queue_run_delay = 1s
            minimal_backoff_time = 1s
            maximal_backoff_time = 2s
            smtp_connection_cache_on_demand = no
            """);
        File.WriteAllText(Path.Combine(config, "master.cf"), $"""
            127.0.0.1:{inject} inet n - n - - smtpd
            127.0.0.1:{receiver} inet n - n - - smtpd -o content_filter= -o myhostname=receiver.test -o smtpd_recipient_restrictions=reject_unauth_destination,check_policy_service,inet:127.0.0.1:{policy.Port}
            pickup    unix  n - n 60 1 pickup
            cleanup   unix  n - n -  0 cleanup
            qmgr      unix  n - n 300 1 qmgr
            rewrite   unix  - - n -  - trivial-rewrite
            bounce    unix  - - n -  0 bounce
            defer     unix  - - n -  0 bounce
            trace     unix  - - n -  0 bounce
            verify    unix  - - n -  1 verify
            flush     unix  n - n 1000? 0 flush
            proxymap  unix  - - n -  - proxymap
            smtp      unix  - - n -  - smtp
            relay     unix  - - n -  - smtp
            showq     unix  n - n -  - showq
            error     unix  - - n -  - error
            retry     unix  - - n -  - error
            discard   unix  - - n -  - discard
            virtual   unix  - n n -  - virtual
            anvil     unix  - - n -  1 anvil
            scache    unix  - - n -  1 scache
            postlog   unix-dgram n - n - 1 postlogd
            """);

        string maillog = Path.Combine(log, "maillog");
        try
        {
            await RunAsync(Postfix, "-c", config, "start");
            await WaitForPortAsync(inject);

            await RunAsync(Swaks, "--server", $"127.0.0.1:{inject}", "--from", "alice@example.com", "--to", "bob@example.net",
                "--helo", "client.example.com", "--header", "Subject: greylist test", "--body", "hello", "--silent", "2");

            string deferred = await WaitForLogAsync(maillog, l => l.Contains("status=deferred", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            Assert.Contains("450 4.2.0 <bob@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html", deferred);

            await Task.Delay(TimeSpan.FromSeconds(options.DelaySeconds + 1));
            await RunAsync(Postfix, "-c", config, "flush");
            await WaitForLogAsync(maillog, l => l.Contains("status=sent", StringComparison.Ordinal) && l.Contains("127.0.0.1", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            string delivered = await WaitForLogAsync(maillog, l => l.Contains("delivered to maildir", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            Assert.Contains("status=sent", delivered);

            string file = Directory.GetFiles(Path.Combine(mail, "inbox", "new")).Single();
            string text = await File.ReadAllTextAsync(file);
            Assert.Matches(@"(?m)^X-Greylist: delayed [0-9]+ seconds by contentfilter-[0-9.]+ at mx\.test; ", text);
            Assert.Contains("Subject: greylist test", text);
        }
        finally
        {
            await StopAsync(config, Path.Combine(dir, "queue", "pid", "master.pid"));
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task StopAsync(string config, string pidFile)
    {
        try
        {
            await RunAsync(Postfix, "-c", config, "stop");
        }
        catch (InvalidOperationException)
        {
        }
        // postfix stop returns before the master exits; wait for our master (by its pid) to be gone.
        if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid))
        {
            for (int i = 0; i < 100 && Directory.Exists($"/proc/{pid}"); i++)
            {
                await Task.Delay(100);
            }
            if (Directory.Exists($"/proc/{pid}"))
            {
                Process.GetProcessById(pid).Kill();
            }
        }
    }

    private static async Task<string> WaitForLogAsync(string path, Func<string, bool> match, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (File.Exists(path))
            {
                string? line = (await File.ReadAllLinesAsync(path)).FirstOrDefault(match);
                if (line is not null)
                {
                    return line;
                }
            }
            await Task.Delay(200);
        }
        string all = File.Exists(path) ? await File.ReadAllTextAsync(path) : "(no log)";
        throw new TimeoutException("expected log line not found in maillog:\n" + all);
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (p.ExitCode != 0)
        {
            string config = args.Length > 1 && args[0] == "-c" ? args[1] : "";
            string maillog = Path.Combine(Path.GetDirectoryName(config) ?? "", "log", "maillog");
            string log = File.Exists(maillog) ? File.ReadAllText(maillog) : "";
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {await stdout}{await stderr}{log}");
        }
    }

    private static async Task WaitForPortAsync(int port)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        throw new TimeoutException($"Postfix does not listen on {port}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
