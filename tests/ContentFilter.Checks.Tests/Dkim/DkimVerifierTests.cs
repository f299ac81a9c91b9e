using System.Text;
using ContentFilter.Checks.Dkim;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Checks.Tests.Dkim;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DkimVerifierTests : IDisposable
{
    private readonly DkimTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    private async Task<byte[]> SignedAsync(string selector = "sel", DkimAlgorithm algorithm = DkimAlgorithm.RsaSha256, int bits = 1024, TimeSpan? lifetime = null)
    {
        string key = _kit.NewKey("example.com", selector, algorithm, bits);
        var options = new DkimOptions();
        options.Sign.Enabled = true;
        options.Sign.SignatureLifetime = lifetime;
        options.Sign.Domains.Add(new DkimDomainKey { Domain = "example.com", Selector = selector, KeyFile = key });
        var (_, output, _) = await DkimTestKit.SignAsync(_kit.Signer(options), TestMessages.Crlf(DkimTestKit.SampleMessage));
        return output;
    }

    [Fact]
    public async Task Verify_Unsigned_IsNone()
    {
        AuthResult r = await _kit.VerifyAsync(TestMessages.Crlf(DkimTestKit.SampleMessage));
        Assert.Equal("none", Assert.Single(r.Results).Result);
        Assert.Equal(CheckStatus.Ok, r.Status);
    }

    [Fact]
    public async Task Verify_DnsTimeout_IsTemperror()
    {
        byte[] signed = await SignedAsync();
        _kit.Dns.Failing.Add("sel._domainkey.example.com");
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(signed)).Results);
        Assert.Equal("temperror", r.Result);
    }

    [Fact]
    public async Task Verify_NoKey_IsPermerror()
    {
        byte[] signed = await SignedAsync();
        var empty = new ContentFilter.Testing.Daemons.DictionaryDnsResolver();
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(signed, empty)).Results);
        Assert.Equal("permerror", r.Result);
        Assert.Equal("no key for signature", r.Reason);
    }

    [Fact]
    public async Task Verify_RevokedKey_IsPermerror()
    {
        byte[] signed = await SignedAsync();
        var dns = new ContentFilter.Testing.Daemons.DictionaryDnsResolver().AddTxt("sel._domainkey.example.com", "v=DKIM1; k=rsa; p=");
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(signed, dns)).Results);
        Assert.Equal(("permerror", "key revoked"), (r.Result, r.Reason));
    }

    [Fact]
    public async Task Verify_BodyChanged_IsFailBodyHashMismatch()
    {
        byte[] signed = await SignedAsync();
        byte[] changed = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(signed).Replace("tomorrow", "today"));
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(changed)).Results);
        Assert.Equal(("fail", "body hash mismatch"), (r.Result, r.Reason));
    }

    [Fact]
    public async Task Verify_HeaderChanged_IsFailBadSignature()
    {
        byte[] signed = await SignedAsync();
        byte[] changed = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(signed).Replace("Subject: Hello there", "Subject: Hello world"));
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(changed)).Results);
        Assert.Equal(("fail", "bad signature"), (r.Result, r.Reason));
    }

    [Fact]
    public async Task Verify_Expired_IsPermerror()
    {
        byte[] signed = await SignedAsync(lifetime: TimeSpan.FromHours(1));
        _kit.Time.Advance(TimeSpan.FromHours(2));
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(signed)).Results);
        Assert.Equal(("permerror", "signature expired"), (r.Result, r.Reason));
    }

    [Fact]
    public async Task Verify_Properties_NameSignature()
    {
        byte[] signed = await SignedAsync();
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(signed)).Results);
        Assert.Equal(["header.d", "header.i", "header.s", "header.a", "header.b"], r.Properties.Select(p => p.Key));
        Assert.Equal("@example.com", r.Properties[1].Value);
        Assert.Equal(8, r.Properties[4].Value.Length);
    }

    [Fact]
    public async Task Verify_ManySignatures_OnlyLimitChecked()
    {
        byte[] signed = await SignedAsync();
        string text = Encoding.UTF8.GetString(signed);
        string sig = text[..(text.IndexOf("\r\nFrom:", StringComparison.Ordinal) + 2)];
        byte[] many = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(sig, 20)) + text[sig.Length..]);
        AuthResult r = await _kit.VerifyAsync(many);
        Assert.Equal(5, r.Results.Count);
        Assert.All(r.Results, x => Assert.Equal("pass", x.Result));
        Assert.Single(_kit.Dns.Queries.Distinct());
    }

    [Fact]
    public async Task Verify_Disabled_IsSkipped()
    {
        var check = new DkimVerifyCheck(new DkimOptions { Verify = false }, _kit.Dns, _kit.Time, Microsoft.Extensions.Logging.Abstractions.NullLogger<DkimVerifyCheck>.Instance);
        await using MessageSpool spool = await TestMessages.SpoolAsync(await SignedAsync());
        Assert.Equal(CheckStatus.Skipped, (await check.RunAsync(TestMessages.Context(spool), CancellationToken.None)).Status);
    }

    [SkippableFact]
    public async Task Rfc8463Example_BothSignaturesPass()
    {
        string? root = TestMessages.SuiteRoot;
        Skip.If(root is null, "../shared/testsuites is absent");
        var dns = ContentFilter.Testing.Daemons.DictionaryDnsResolver.FromTsv(Path.Combine(root!, "dkim", "rfc8463", "records.tsv"));
        AuthResult r = await _kit.VerifyAsync(File.ReadAllBytes(Path.Combine(root!, "dkim", "rfc8463", "rfc8463-A3-signed.eml")), dns);
        Assert.Equal([("pass", "ed25519-sha256"), ("pass", "rsa-sha256")], r.Results.Select(x => (x.Result, x.Properties.First(p => p.Key == "header.a").Value)));
    }

    [SkippableFact]
    public async Task Rfc6376Example_AsPrinted_FailsBodyHash()
    {
        string? root = TestMessages.SuiteRoot;
        Skip.If(root is null, "../shared/testsuites is absent");
        var dns = ContentFilter.Testing.Daemons.DictionaryDnsResolver.FromTsv(Path.Combine(root!, "dkim", "rfc6376", "records.tsv"));
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(File.ReadAllBytes(Path.Combine(root!, "dkim", "rfc6376", "rfc6376-A2-signed.eml")), dns)).Results);
        Assert.Equal(("fail", "body hash mismatch"), (r.Result, r.Reason));
    }
}
