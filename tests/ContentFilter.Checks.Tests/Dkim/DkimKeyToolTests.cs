using System.Diagnostics;
using ContentFilter.Checks.Dkim;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.Checks.Tests.Dkim;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DkimKeyToolTests : IDisposable
{
    private readonly DkimTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    [Fact]
    public void Keygen_RefusesShortRsaAndUnknownAlgorithm()
    {
        var error = new StringWriter();
        Assert.Equal(1, DkimKeyTool.Keygen("example.com", "s", "rsa", 512, _kit.Directory, TextWriter.Null, error));
        Assert.Contains("1024", error.ToString());
        Assert.Equal(1, DkimKeyTool.Keygen("example.com", "s", "dsa", 2048, _kit.Directory, TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void Keygen_NeverOverwritesAKey()
    {
        Assert.Equal(0, DkimKeyTool.Keygen("example.com", "s", "ed25519", 0, _kit.Directory, TextWriter.Null, TextWriter.Null));
        string before = File.ReadAllText(Path.Combine(_kit.Directory, "s.private"));
        Assert.Equal(2, DkimKeyTool.Keygen("example.com", "s", "ed25519", 0, _kit.Directory, TextWriter.Null, TextWriter.Null));
        Assert.Equal(before, File.ReadAllText(Path.Combine(_kit.Directory, "s.private")));
    }

    [Fact]
    public void ZoneRecord_SplitsInto255ByteStrings()
    {
        string record = "v=DKIM1; k=rsa; p=" + new string('A', 600);
        string zone = DkimKeyTool.ZoneRecord("example.com", "sel", record);
        string[] strings = System.Text.RegularExpressions.Regex.Matches(zone, "\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(3, strings.Length);
        Assert.All(strings, s => Assert.True(s.Length <= 255));
        Assert.Equal(record, string.Concat(strings));
        Assert.StartsWith("sel._domainkey.example.com. IN TXT (", zone);
    }

    [Fact]
    public async Task Testkey_ReportsEachDifference()
    {
        string key = _kit.NewKey("example.com", "good", DkimAlgorithm.RsaSha256, publish: true);
        using DkimPrivateKey other = DkimPrivateKey.Generate(DkimAlgorithm.RsaSha256, 1024);
        _kit.Dns.AddTxt("other._domainkey.example.com", other.DnsRecord());
        _kit.Dns.AddTxt("revoked._domainkey.example.com", "v=DKIM1; k=rsa; p=");
        using (var weak = System.Security.Cryptography.RSA.Create(512))
        {
            _kit.Dns.AddTxt("short._domainkey.example.com", "v=DKIM1; p=" + Convert.ToBase64String(weak.ExportSubjectPublicKeyInfo()));
        }
        _kit.Dns.Failing.Add("broken._domainkey.example.com");
        var tool = new DkimKeyTool(_kit.Dns);

        Assert.True((await tool.TestKeyAsync("example.com", "good", key, CancellationToken.None)).Ok);
        Assert.Contains((await tool.TestKeyAsync("example.com", "other", key, CancellationToken.None)).Problems, p => p.StartsWith("p= mismatch"));
        Assert.Contains((await tool.TestKeyAsync("example.com", "revoked", key, CancellationToken.None)).Problems, p => p.Contains("revoked"));
        Assert.Contains((await tool.TestKeyAsync("example.com", "short", key, CancellationToken.None)).Problems, p => p.Contains("too short"));
        Assert.Contains((await tool.TestKeyAsync("example.com", "broken", key, CancellationToken.None)).Problems, p => p.Contains("failed"));

        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        DkimKeyTestReport unsafeReport = await tool.TestKeyAsync("example.com", "good", key, CancellationToken.None);
        Assert.Contains(unsafeReport.Problems, p => p.Contains("group or others"));
        var printed = new StringWriter();
        Assert.Equal(1, unsafeReport.Print(printed));
        Assert.Contains("problem:", printed.ToString());
    }

    [SkippableFact]
    public async Task OpenSslEd25519Pkcs8Key_IsUsable()
    {
        Skip.IfNot(File.Exists("/usr/bin/openssl"), "openssl is not installed");
        string path = Path.Combine(_kit.Directory, "ed.pem");
        using (Process p = Process.Start("/usr/bin/openssl", ["genpkey", "-algorithm", "ed25519", "-out", path])!)
        {
            await p.WaitForExitAsync();
            Assert.Equal(0, p.ExitCode);
        }
        using DkimPrivateKey key = DkimPrivateKey.Load(path);
        Assert.Equal(DkimAlgorithm.Ed25519Sha256, key.Algorithm);
        Assert.Equal(44, key.PublicKeyBase64.Length);
    }

    [SkippableFact]
    public async Task OpenDkimGenkeyFiles_SignWithUs_OpenDkimVerifies()
    {
        // An OpenDKIM site's own key and record, used through its KeyTable/SigningTable unchanged.
        Skip.IfNot(File.Exists("/usr/sbin/opendkim-genkey") && File.Exists("/usr/sbin/opendkim-testmsg"), "opendkim-tools are not installed");
        Skip.IfNot(DnsmasqServer.IsAvailable && DnsmasqServer.CanWrapResolvConf, "needs dnsmasq, root and unshare");
        string keys = Path.Combine(_kit.Directory, "opendkim");
        Directory.CreateDirectory(keys);
        using (Process p = Process.Start("/usr/sbin/opendkim-genkey", ["-b", "2048", "-d", "example.com", "-s", "mail", "-D", keys])!)
        {
            await p.WaitForExitAsync();
            Assert.Equal(0, p.ExitCode);
        }
        string keyFile = Path.Combine(keys, "mail.private");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string zone = File.ReadAllText(Path.Combine(keys, "mail.txt"));
        string record = string.Concat(System.Text.RegularExpressions.Regex.Matches(zone, "\"([^\"]*)\"").Select(m => m.Groups[1].Value));
        File.WriteAllText(Path.Combine(keys, "KeyTable"), $"mail._domainkey.example.com example.com:mail:{keyFile}\n");
        File.WriteAllText(Path.Combine(keys, "SigningTable"), "example.com mail._domainkey.example.com\n");

        var options = new DkimOptions();
        options.Sign.Enabled = true;
        options.Sign.KeyTable = Path.Combine(keys, "KeyTable");
        options.Sign.SigningTable = Path.Combine(keys, "SigningTable");
        DkimSigner signer = _kit.Signer(options);
        Assert.Empty(signer.ValidateKeys());
        var (result, signed, _) = await DkimTestKit.SignAsync(signer, TestMessages.Crlf(DkimTestKit.SampleMessage));
        Assert.Equal(["mail:example.com"], Assert.IsType<DkimSignResult>(result).Signatures);

        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("mail._domainkey.example.com", record)]);
        using Process verify = Process.Start(dns.WrapWithResolvConf("/usr/sbin/opendkim-testmsg", "-C"))!;
        Task<string> stderr = verify.StandardError.ReadToEndAsync();
        await verify.StandardInput.BaseStream.WriteAsync(signed);
        verify.StandardInput.Close();
        await verify.WaitForExitAsync();
        Assert.True(verify.ExitCode == 0, "opendkim-testmsg: " + await stderr);
    }
}
