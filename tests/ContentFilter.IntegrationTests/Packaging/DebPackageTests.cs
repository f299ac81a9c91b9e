using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.Packaging;

/// <summary>
/// The Debian package from <c>scripts/build-deb</c>, installed for real: files, modes, the system user, the service
/// relaying a message as that user through the packaged wrapper, and a purge that leaves nothing behind.
/// </summary>
/// <remarks>
/// Installing a package is intrusive, so this runs only as root with dpkg, and only when asked (<c>CF_DEB_TEST=1</c>)
/// or on CI (<c>CI=true</c>, a throwaway machine). <c>CF_DEB</c> names a prebuilt .deb; otherwise the script builds one.
/// The service is started without systemd (runuser), so the test also works in containers.
/// </remarks>
public sealed class DebPackageTests
{
    private const string Package = "contentfilter";

    [SkippableFact]
    public async Task DebPackage_InstallRelayPurge_BehavesAsDebianAdminsExpect()
    {
        Skip.IfNot(
            Environment.GetEnvironmentVariable("CF_DEB_TEST") == "1" || string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
            "installs a package: set CF_DEB_TEST=1 (CI=true does it on CI)");
        Skip.IfNot(OperatingSystem.IsLinux() && geteuid() == 0, "needs root");
        Skip.IfNot(File.Exists("/usr/bin/dpkg") && File.Exists("/usr/bin/dpkg-deb"), "needs dpkg");
        Skip.IfNot(File.Exists("/usr/sbin/runuser"), "needs runuser");
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "needs smtp-sink (postfix)");
        Skip.If((await Run("dpkg-query", ["-W", "-f=${Status}", Package])).StandardOutput.Contains("installed", StringComparison.Ordinal),
            "contentfilter is already installed here; not touching it");
        Skip.If((await Run("getent", ["passwd", Package])).ExitCode == 0, "a user contentfilter already exists here; not touching it");
        string deb = await BuildOrFindDebAsync();
        try
        {
            (await Run("dpkg", ["-i", deb], TimeSpan.FromSeconds(120))).EnsureSuccess();

            AssertInstalledLayout();
            string passwd = (await Run("getent", ["passwd", Package])).EnsureSuccess().StandardOutput.Trim();
            string[] fields = passwd.Split(':');
            Assert.Equal("/var/lib/contentfilter", fields[5]);
            Assert.True(int.Parse(fields[2], CultureInfo.InvariantCulture) < 1000, $"not a system user: {passwd}");
            Assert.Equal(0, (await Run("getent", ["group", Package])).ExitCode);
            string conffiles = (await Run("dpkg-query", ["-W", "-f=${Conffiles}", Package])).EnsureSuccess().StandardOutput;
            foreach (string f in new[] { "contentfilter.json", "whitelist_clients", "whitelist_recipients" })
            {
                Assert.Contains("/etc/contentfilter/" + f, conffiles, StringComparison.Ordinal);
            }

            // The packaged wrapper finds dotnet and the shipped sample configuration is valid.
            CommandResult check = await Run("/usr/bin/contentfilter", ["check-config", "--config", "/etc/contentfilter/contentfilter.json"], TimeSpan.FromSeconds(60));
            Assert.True(check.ExitCode == 0, check.StandardOutput + check.StandardError);

            await RelayOneMessageAsServiceUserAsync();

            // Remove (not purge) keeps what admins edited or collected: configuration, user, spool, state, logs.
            (await Run("dpkg", ["-r", Package], TimeSpan.FromSeconds(120))).EnsureSuccess();
            Assert.False(File.Exists("/usr/lib/contentfilter/contentfilter.dll"), "remove left the program");
            Assert.False(File.Exists("/usr/bin/contentfilter"), "remove left the wrapper");
            Assert.True(File.Exists("/etc/contentfilter/contentfilter.json"), "remove deleted a conffile");
            Assert.Equal(0, (await Run("getent", ["passwd", Package])).ExitCode);
            foreach (string path in new[] { "/var/spool/contentfilter", "/var/lib/contentfilter/quarantine", "/var/log/contentfilter" })
            {
                Assert.True(Directory.Exists(path), $"remove deleted {path}");
            }
        }
        finally
        {
            CommandResult purge = await Run("dpkg", ["--purge", Package], TimeSpan.FromSeconds(120));
            if (Environment.GetEnvironmentVariable("CF_DEB") is not { Length: > 0 })
            {
                Directory.Delete(Path.GetDirectoryName(deb)!, recursive: true); // the package this test built
            }
            Assert.True(purge.ExitCode == 0, purge.StandardOutput + purge.StandardError);
        }

        Assert.NotEqual(0, (await Run("getent", ["passwd", Package])).ExitCode);
        Assert.NotEqual(0, (await Run("getent", ["group", Package])).ExitCode);
        foreach (string path in new[] { "/var/spool/contentfilter", "/var/lib/contentfilter", "/var/log/contentfilter", "/etc/contentfilter", "/usr/lib/contentfilter" })
        {
            Assert.False(Directory.Exists(path), $"{path} is left after purge");
        }
        Assert.False(File.Exists("/usr/bin/contentfilter"));
        Assert.False(File.Exists("/lib/systemd/system/contentfilter.service"));
    }

    private static void AssertInstalledLayout()
    {
        AssertMode("/usr/bin/contentfilter", "755 root root");
        AssertMode("/usr/lib/contentfilter/contentfilter.dll", "644 root root");
        AssertMode("/lib/systemd/system/contentfilter.service", "644 root root");
        AssertMode("/etc/contentfilter/contentfilter.json", "644 root root");
        AssertMode("/etc/contentfilter/whitelist_clients", "644 root root");
        AssertMode("/etc/contentfilter/whitelist_recipients", "644 root root");
        AssertMode("/usr/share/doc/contentfilter/README.md", "644 root root");
        AssertMode("/usr/share/doc/contentfilter/postfix-master.cf.snippet", "644 root root");
        AssertMode("/var/spool/contentfilter", "700 contentfilter contentfilter");
        AssertMode("/var/lib/contentfilter", "700 contentfilter contentfilter");
        AssertMode("/var/lib/contentfilter/quarantine", "700 contentfilter contentfilter");
        AssertMode("/var/log/contentfilter", "750 contentfilter contentfilter");
        string unit = File.ReadAllText("/lib/systemd/system/contentfilter.service");
        Assert.Contains("\nExecStart=/usr/bin/contentfilter run --config /etc/contentfilter/contentfilter.json", unit, StringComparison.Ordinal);
        Assert.Contains("/usr/lib/contentfilter/contentfilter.dll", File.ReadAllText("/usr/bin/contentfilter"), StringComparison.Ordinal);
    }

    private static void AssertMode(string path, string expected)
    {
        Assert.True(File.Exists(path) || Directory.Exists(path), $"{path} is missing");
        UnixFileMode mode = File.GetUnixFileMode(path);
        string owner = StatOwner(path);
        Assert.Equal(expected, Convert.ToString((int)mode, 8) + " " + owner);
    }

    private static string StatOwner(string path)
    {
        CommandResult r = Run("stat", ["-c", "%U %G", path]).GetAwaiter().GetResult();
        return r.EnsureSuccess().StandardOutput.Trim();
    }

    /// <summary>Runs <c>/usr/bin/contentfilter run</c> as the package's user (no systemd) between a client and smtp-sink.</summary>
    private static async Task RelayOneMessageAsServiceUserAsync()
    {
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using var filter = new ContentFilterProcess(sink.Port, ServiceSections.IsKnown, "/usr/lib/contentfilter/contentfilter.dll");
        filter.Set("Listeners:originating:Enabled", false);
        Directory.CreateDirectory(filter.SpoolDirectory);
        await File.WriteAllTextAsync(filter.ConfigFile, filter.Config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        // The service user must own its temp directory (spool, audit, quarantine, greylist database live there).
        (await Run("chown", ["-R", "contentfilter:contentfilter", filter.RootDirectory])).EnsureSuccess();

        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec /usr/sbin/runuser -u contentfilter -- /usr/bin/contentfilter run --config '{filter.ConfigFile}' </dev/null >>'{filter.StdoutFile}' 2>>'{filter.StderrFile}'");
        foreach (string key in Environment.GetEnvironmentVariables().Keys.Cast<string>().Where(k => k.StartsWith("CONTENTFILTER_", StringComparison.Ordinal)))
        {
            psi.Environment.Remove(key);
        }
        using Process runuser = Process.Start(psi) ?? throw new InvalidOperationException("runuser did not start");
        int servicePid = 0;
        try
        {
            await Poll.UntilAsync(
                async () =>
                {
                    if (runuser.HasExited)
                    {
                        throw new InvalidOperationException($"contentfilter exited with {runuser.ExitCode}\n{filter.Diagnostics()}");
                    }
                    return await Poll.IsListeningAsync(filter.InboundPort);
                },
                TimeSpan.FromSeconds(60),
                "the packaged contentfilter to listen",
                TimeSpan.FromMilliseconds(100));
            servicePid = ServicePid(runuser.Id);
            Assert.Equal(UserId("contentfilter"), ProcessUid(servicePid));

            byte[] message = Encoding.ASCII.GetBytes(
                "From: alice@example.org\r\nTo: user@dest.test\r\nSubject: packaged\r\nMessage-ID: <deb-test@example.org>\r\n\r\nrelayed by the .deb\r\n");
            var (client, greeting) = await RawSmtpClient.ConnectAsync(filter.InboundPort);
            await using (client)
            {
                Assert.Equal(220, greeting.Code);
                await client.EhloAsync();
                SmtpReply reply = await client.SendMailAsync("alice@example.org", ["user@dest.test"], message);
                Assert.True(reply.Code == 250, $"{reply}\n{filter.Diagnostics()}");
                await client.QuitAsync();
            }
            IReadOnlyList<SmtpSinkDump> dumps = await sink.WaitForDumpsAsync(1, TimeSpan.FromSeconds(30));
            Assert.Single(dumps);
            Assert.Contains("relayed by the .deb", Encoding.ASCII.GetString(dumps[0].Body), StringComparison.Ordinal);
            Assert.Contains("user@dest.test", string.Join(' ', dumps[0].Get("X-Rcpt-Args")), StringComparison.Ordinal);
        }
        finally
        {
            if (servicePid > 0 && ProcStatus.IsAlive(servicePid))
            {
                _ = kill(servicePid, 15);
                if (!await ProcStatus.WaitForExitAsync(servicePid, TimeSpan.FromSeconds(40)))
                {
                    _ = kill(servicePid, 9);
                }
            }
            if (!runuser.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                runuser.Kill();
                runuser.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        Assert.False(ProcStatus.IsAlive(servicePid));
    }

    /// <summary>The service process: runuser's child (runuser keeps a PAM session parent), or runuser itself once exec'd.</summary>
    private static int ServicePid(int runuserPid)
    {
        string children = $"/proc/{runuserPid}/task/{runuserPid}/children";
        if (File.Exists(children))
        {
            string[] pids = File.ReadAllText(children).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (pids.Length == 1)
            {
                return int.Parse(pids[0], CultureInfo.InvariantCulture);
            }
        }
        return runuserPid;
    }

    private static int ProcessUid(int pid) =>
        int.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    private static int UserId(string user) =>
        int.Parse(Run("id", ["-u", user]).GetAwaiter().GetResult().EnsureSuccess().StandardOutput.Trim(), CultureInfo.InvariantCulture);

    private static async Task<string> BuildOrFindDebAsync()
    {
        if (Environment.GetEnvironmentVariable("CF_DEB") is { Length: > 0 } prebuilt)
        {
            Assert.True(File.Exists(prebuilt), $"CF_DEB={prebuilt} does not exist");
            return prebuilt;
        }
        string output = Directory.CreateTempSubdirectory("cf-deb-").FullName;
        CommandResult build = await ExternalCommand.RunAsync(
            "/usr/bin/env", [$"CF_DEB_OUTPUT={output}", Path.Combine(TestPaths.RepoRoot, "scripts", "build-deb")], TimeSpan.FromMinutes(8));
        Assert.True(build.ExitCode == 0, build.StandardOutput + build.StandardError);
        string deb = build.StandardOutput.Trim().Split('\n')[^1];
        Assert.True(File.Exists(deb), $"build-deb printed {deb}");
        return deb;
    }

    private static Task<CommandResult> Run(string command, string[] arguments, TimeSpan? timeout = null) =>
        ExternalCommand.RunAsync(command, arguments, timeout ?? TimeSpan.FromSeconds(30));

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
