using System.Diagnostics;
using System.Text;
using ContentFilter.Checks.Dkim;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.Checks.Tests.Dkim;

/// <summary>
/// Our signatures checked by independent implementations (Debian's python3-dkim <c>dkimverify</c> and opendkim-tools
/// <c>opendkim-testmsg</c>), and theirs by us, with the keys published on a private dnsmasq that the tools reach
/// through a private mount namespace's /etc/resolv.conf (TESTKIT.md). Skipped where a tool or root is missing.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DkimIndependentVerifierTests : IDisposable
{
    private const string DkimVerify = "/usr/bin/dkimverify";
    private const string DkimSign = "/usr/bin/dkimsign";
    private const string OpenDkimTestMsg = "/usr/sbin/opendkim-testmsg";

    private readonly DkimTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    private static void SkipUnlessTools(params string[] tools)
    {
        Skip.IfNot(DnsmasqServer.IsAvailable, "dnsmasq is not installed");
        Skip.IfNot(DnsmasqServer.CanWrapResolvConf, "needs root and unshare to point the tool at the test DNS");
        foreach (string t in tools)
        {
            Skip.IfNot(File.Exists(t), t + " is not installed");
        }
    }

    private async Task<(byte[] Signed, string KeyPath, string Record)> SignWithUsAsync(DkimAlgorithm algorithm, string canonicalization, int bits = 2048)
    {
        string keyPath = _kit.NewKey("example.com", "cf", algorithm, bits);
        string record;
        using (DkimPrivateKey key = DkimPrivateKey.Load(keyPath))
        {
            record = key.DnsRecord();
        }
        var options = new DkimOptions();
        options.Sign.Enabled = true;
        options.Sign.Canonicalization = canonicalization;
        options.Sign.Domains.Add(new DkimDomainKey { Domain = "example.com", Selector = "cf", KeyFile = keyPath });
        var (result, output, _) = await DkimTestKit.SignAsync(_kit.Signer(options), TestMessages.Crlf(DkimTestKit.SampleMessage));
        Assert.Equal(["cf:example.com"], Assert.IsType<DkimSignResult>(result).Signatures);
        return (output, keyPath, record);
    }

    private static async Task<(int Exit, string Output)> RunAsync(ProcessStartInfo psi, byte[] stdin)
    {
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.BaseStream.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, (await stdout) + (await stderr));
    }

    [SkippableTheory]
    [InlineData(DkimAlgorithm.RsaSha256, "relaxed/relaxed")]
    [InlineData(DkimAlgorithm.RsaSha256, "simple/simple")]
    [InlineData(DkimAlgorithm.Ed25519Sha256, "relaxed/relaxed")]
    [InlineData(DkimAlgorithm.Ed25519Sha256, "simple/simple")]
    public async Task OurSignature_Dkimverify_SaysOk(DkimAlgorithm algorithm, string canonicalization)
    {
        SkipUnlessTools(DkimVerify);
        var (signed, _, record) = await SignWithUsAsync(algorithm, canonicalization);
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("cf._domainkey.example.com", record)]);

        var (exit, output) = await RunAsync(dns.WrapWithResolvConf(DkimVerify), signed);

        Assert.True(exit == 0, $"dkimverify exit {exit}: {output}");
        Assert.Contains("signature ok", output);
        Assert.Contains("cf._domainkey.example.com", File.ReadAllText(dns.LogPath));
    }

    [SkippableFact]
    public async Task OurSignature_AlteredBody_DkimverifyFails()
    {
        SkipUnlessTools(DkimVerify);
        var (signed, _, record) = await SignWithUsAsync(DkimAlgorithm.RsaSha256, "relaxed/relaxed");
        byte[] altered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(signed).Replace("tomorrow", "today"));
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("cf._domainkey.example.com", record)]);

        var (exit, output) = await RunAsync(dns.WrapWithResolvConf(DkimVerify), altered);

        Assert.True(exit != 0, "dkimverify accepted an altered body: " + output);
    }

    [SkippableTheory]
    [InlineData("relaxed/relaxed")]
    [InlineData("simple/simple")]
    [InlineData("relaxed/simple")]
    public async Task OurRsaSignature_OpenDkimTestmsg_Verifies(string canonicalization)
    {
        // opendkim 2.11 has no ed25519 support in opendkim-testmsg's library build here: RSA only.
        SkipUnlessTools(OpenDkimTestMsg);
        var (signed, _, record) = await SignWithUsAsync(DkimAlgorithm.RsaSha256, canonicalization);
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("cf._domainkey.example.com", record)]);

        var (exit, output) = await RunAsync(dns.WrapWithResolvConf(OpenDkimTestMsg, "-C"), signed);

        Assert.True(exit == 0, $"opendkim-testmsg exit {exit}: {output}");
        Assert.Contains("cf._domainkey.example.com", File.ReadAllText(dns.LogPath));
    }

    [SkippableFact]
    public async Task OurRsaSignature_TamperedHeader_OpenDkimTestmsgFails()
    {
        SkipUnlessTools(OpenDkimTestMsg);
        var (signed, _, record) = await SignWithUsAsync(DkimAlgorithm.RsaSha256, "relaxed/relaxed");
        byte[] tampered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(signed).Replace("Subject: Hello there", "Subject: Hello thar"));
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("cf._domainkey.example.com", record)]);

        var (exit, output) = await RunAsync(dns.WrapWithResolvConf(OpenDkimTestMsg, "-C"), tampered);

        Assert.True(exit != 0, "opendkim-testmsg accepted a changed Subject: " + output);
    }

    [SkippableTheory]
    [InlineData("rsa-sha256", "relaxed", "relaxed")]
    [InlineData("rsa-sha256", "simple", "simple")]
    [InlineData("ed25519-sha256", "relaxed", "simple")]
    public async Task DkimsignSignature_OurVerifier_OverRealDns_Passes(string algorithm, string hcanon, string bcanon)
    {
        SkipUnlessTools(DkimSign);
        string keyPath = Path.Combine(_kit.Directory, "dkimpy.key");
        string record;
        if (algorithm == "rsa-sha256")
        {
            using DkimPrivateKey key = DkimPrivateKey.Generate(DkimAlgorithm.RsaSha256, 2048);
            File.WriteAllText(keyPath, key.ExportPem());
            record = key.DnsRecord();
        }
        else
        {
            // dkimpy reads an Ed25519 key as the bare base64 seed.
            byte[] seed = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
            File.WriteAllText(keyPath, Convert.ToBase64String(seed) + "\n");
            using DkimPrivateKey key = DkimPrivateKey.Parse(Convert.ToBase64String(seed));
            record = key.DnsRecord();
        }
        var psi = new ProcessStartInfo(DkimSign)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in new[] { "--signalg", algorithm, "--hcanon", hcanon, "--bcanon", bcanon, "py", "example.com", keyPath })
        {
            psi.ArgumentList.Add(a);
        }
        var (exit, output) = await RunAsync(psi, TestMessages.Crlf(DkimTestKit.SampleMessage));
        Assert.True(exit == 0, "dkimsign failed: " + output);
        byte[] signed = TestMessages.Crlf(output);

        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("py._domainkey.example.com", record)]);
        _kit.Time.SetUtcNow(DateTimeOffset.UtcNow); // dkimsign stamps t= from the real clock
        AuthResult result = await _kit.VerifyAsync(signed, new DnsClientTestResolver(dns.Address, dns.Port));

        AuthMethodResult r = Assert.Single(result.Results);
        Assert.True(r.Result == "pass", $"{r.Result} ({r.Reason})");
        Assert.Contains(r.Properties, p => p.Key == "header.a" && p.Value == algorithm);
    }

    [SkippableFact]
    public async Task Keygen_PublishedOnDns_TestkeyFindsNoProblem_ThenMismatchFound()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root (port 53 on a loopback address)");
        string dir = Path.Combine(_kit.Directory, "keys");
        var stdout = new StringWriter();
        Assert.Equal(0, DkimKeyTool.Keygen("example.org", "k1", "rsa", 2048, dir, stdout, TextWriter.Null));
        Assert.Equal(0, DkimKeyTool.Keygen("example.org", "k2", "ed25519", 0, dir, TextWriter.Null, TextWriter.Null));
        string keyFile = Path.Combine(dir, "k1.private");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));

        // Publish what keygen printed: the quoted strings joined, as a resolver would.
        string printed = stdout.ToString();
        string[] strings = System.Text.RegularExpressions.Regex.Matches(printed, "\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToArray();
        Assert.True(strings.Length >= 2 && strings.All(s => s.Length <= 255), printed);
        string txt = File.ReadAllText(Path.Combine(dir, "k2.txt"));
        string ed = string.Concat(System.Text.RegularExpressions.Regex.Matches(txt, "\"([^\"]*)\"").Select(m => m.Groups[1].Value));
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("k1._domainkey.example.org", string.Concat(strings)), new("k2._domainkey.example.org", ed)]);
        var tool = new DkimKeyTool(new DnsClientTestResolver(dns.Address, dns.Port));

        DkimKeyTestReport ok = await tool.TestKeyAsync("example.org", "k1", keyFile, CancellationToken.None);
        Assert.True(ok.Ok, string.Join("; ", ok.Problems));
        Assert.True((await tool.TestKeyAsync("example.org", "k2", Path.Combine(dir, "k2.private"), CancellationToken.None)).Ok);

        DkimKeyTestReport wrongKey = await tool.TestKeyAsync("example.org", "k1", Path.Combine(dir, "k2.private"), CancellationToken.None);
        Assert.Contains(wrongKey.Problems, p => p.Contains("k= mismatch"));
        DkimKeyTestReport missing = await tool.TestKeyAsync("example.org", "nope", keyFile, CancellationToken.None);
        Assert.Contains(missing.Problems, p => p.Contains("no TXT record") && p.Contains("NXDOMAIN"));
    }
}
