using System.Diagnostics;
using System.Text;

namespace ContentFilter.Testing.Daemons;

/// <summary>A private spamd for tests: Debian's rules, network tests off, on a loopback port (TESTKIT.md).</summary>
/// <remarks>
/// <c>--siteconfigpath</c> replaces /etc/spamassassin, so the <c>*.pre</c> files are copied in (else every scan
/// fails with "no loaded plugin implements 'check_main'") and a <c>local.cf</c> turns off DNS, RBLs and Bayes. spamd
/// binds before its rules are loaded, so ready means <c>spamc -K</c> answered (it prints <c>SPAMD/1.5 0</c>, exit 0; about 1.4 s). spamd is slow
/// (~10 msg/s on 2 cores): share one instance per test class (<c>IClassFixture&lt;SpamdInstance&gt;</c>).
/// </remarks>
public sealed class SpamdInstance : DaemonProcess, IDisposable
{
    /// <summary>Creates the folder and config; call <see cref="StartAsync"/> (or let the fixture do it lazily).</summary>
    public SpamdInstance()
        : base(System.IO.Directory.CreateTempSubdirectory("cf-spamd-").FullName)
    {
        Port = ClamdInstance.FreeTcpPort();
    }

    /// <summary>True when spamd and spamc exist (tests skip otherwise).</summary>
    public static bool IsAvailable => File.Exists("/usr/sbin/spamd") && File.Exists("/usr/bin/spamc") && System.IO.Directory.Exists("/etc/spamassassin");

    /// <summary>The loopback port.</summary>
    public int Port { get; }

    /// <summary>The address: <c>127.0.0.1:PORT</c>.</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <inheritdoc />
    protected override string Name => "spamd";

    /// <summary>Starts spamd once and waits until it answers PING; later calls return at once.</summary>
    public async Task StartAsync()
    {
        if (IsRunning)
        {
            return;
        }
        string site = Path.Combine(Directory, "site");
        System.IO.Directory.CreateDirectory(site);
        // spamd's children run as debian-spamd and read the site config: the temp folder is 0700 by default.
        const UnixFileMode readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Directory, readable);
            File.SetUnixFileMode(site, readable);
        }
        foreach (string pre in System.IO.Directory.GetFiles("/etc/spamassassin", "*.pre"))
        {
            File.Copy(pre, Path.Combine(site, Path.GetFileName(pre)), overwrite: true);
        }
        File.WriteAllText(Path.Combine(site, "local.cf"), "dns_available no\nskip_rbl_checks 1\nuse_bayes 0\n");
        var psi = new ProcessStartInfo("/usr/sbin/spamd") { WorkingDirectory = Directory };
        foreach (string a in new[]
        {
            "--siteconfigpath=" + site, "-u", "debian-spamd", "-x", "--pidfile=" + Path.Combine(Directory, "spamd.pid"),
            $"--listen=127.0.0.1:{Port}", "--max-children=2", "--min-children=1", "--syslog=stderr",
        })
        {
            psi.ArgumentList.Add(a);
        }
        await StartProcessAsync(psi, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task<bool> ProbeAsync()
    {
        var psi = new ProcessStartInfo("/usr/bin/spamc") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-d", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-K" })
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        string stdout = await p.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        // spamc -K prints the status line without the word: "SPAMD/1.5 0".
        return p.ExitCode == 0 && stdout.StartsWith("SPAMD/", StringComparison.Ordinal);
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
