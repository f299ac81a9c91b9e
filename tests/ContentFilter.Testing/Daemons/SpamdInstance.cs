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
public sealed class SpamdInstance : IAsyncDisposable, IDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    /// <summary>Creates the folder and config; call <see cref="StartAsync"/> (or let the fixture do it lazily).</summary>
    public SpamdInstance()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("cf-spamd-").FullName;
        Port = ClamdInstance.FreeTcpPort();
    }

    /// <summary>True when spamd and spamc exist (tests skip otherwise).</summary>
    public static bool IsAvailable => File.Exists("/usr/sbin/spamd") && File.Exists("/usr/bin/spamc") && System.IO.Directory.Exists("/etc/spamassassin");

    /// <summary>Temp folder with site config, pid file and log.</summary>
    public string Directory { get; }

    /// <summary>The loopback port.</summary>
    public int Port { get; }

    /// <summary>The address: <c>127.0.0.1:PORT</c>.</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>What spamd printed.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts spamd once and waits until it answers PING; later calls return at once.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false })
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
        var psi = new ProcessStartInfo("/usr/sbin/spamd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        foreach (string a in new[]
        {
            "--siteconfigpath=" + site, "-u", "debian-spamd", "-x", "--pidfile=" + Path.Combine(Directory, "spamd.pid"),
            $"--listen=127.0.0.1:{Port}", "--max-children=2", "--min-children=1", "--syslog=stderr",
        })
        {
            psi.ArgumentList.Add(a);
        }
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"spamd exited with {process.ExitCode}: {Output}");
            }
            if (await PongAsync().ConfigureAwait(false))
            {
                return;
            }
            await Task.Delay(100).ConfigureAwait(false);
        }
        throw new TimeoutException("spamd did not answer PING within 60 s: " + Output);
    }

    private async Task<bool> PongAsync()
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

    /// <summary>Stops spamd (its parent by our pid; it ends its children) and waits.</summary>
    public async Task StopAsync()
    {
        Process? p = _process;
        if (p is null)
        {
            return;
        }
        _process = null;
        if (!p.HasExited)
        {
            p.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        p.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
