using ContentFilter.Checks.Dmarc;
using ContentFilter.Checks.Tests.Dns;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Checks.Tests.Dmarc;

public sealed class DmarcCheckTests
{
    private static readonly OrganizationalDomain Org = new(PublicSuffixList.Parse(new[] { "com", "uk", "co.uk", "org" }));

    private static DmarcCheck Check(DictionaryDnsResolver dns, int randomValue = 0) =>
        new(new DmarcOptions(), dns, Org, TimeProvider.System, new FixedRandom(randomValue), NullLogger<DmarcCheck>.Instance);

    private static async Task<MessageContext> Context(string from, params AuthMethodResult[] earlier)
    {
        MessageContext ctx = await AuthTestMessage.ContextAsync($"From: {from}\nSubject: x\n\nbody\n", new Envelope { MailFrom = "bounce@example.com" });
        ctx.AddResult(new AuthResult { Check = "spf", Status = CheckStatus.Ok, Results = earlier.Where(e => e.Method == "spf").ToList() });
        ctx.AddResult(new AuthResult { Check = "dkim", Status = CheckStatus.Ok, Results = earlier.Where(e => e.Method == "dkim").ToList() });
        return ctx;
    }

    private static AuthMethodResult Dkim(string result, string d) => new("dkim", result, null, new[] { new KeyValuePair<string, string>("header.d", d) });

    private static AuthMethodResult Spf(string result, string mailFrom) => new("spf", result, null, new[] { new KeyValuePair<string, string>("smtp.mailfrom", mailFrom) });

    private static async Task<AuthResult> Run(DictionaryDnsResolver dns, MessageContext ctx, int random = 0) =>
        Assert.IsType<AuthResult>(await Check(dns, random).RunAsync(ctx, CancellationToken.None));

    [Fact]
    public async Task Run_AlignedDkimPass_Pass()
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.com", "v=DMARC1; p=reject");
        AuthResult r = await Run(dns, await Context("A <a@example.com>", Dkim("pass", "mail.example.com")));

        AuthMethodResult m = Assert.Single(r.Results);
        Assert.Equal("pass", m.Result);
        Assert.Equal(new KeyValuePair<string, string>("header.from", "example.com"), Assert.Single(m.Properties));
        Assert.Null(r.RequestedPolicy);
    }

    [Fact]
    public async Task Run_StrictDkimSubdomainSignature_FailWithReject()
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.com", "v=DMARC1; p=reject; adkim=s; aspf=s");
        AuthResult r = await Run(dns, await Context("a@example.com", Dkim("pass", "mail.example.com"), Spf("pass", "b@bounce.example.com")));

        Assert.Equal("fail", r.Results[0].Result);
        Assert.Equal("reject", r.RequestedPolicy);
        Assert.Equal("p=reject dis=reject", r.Results[0].Comment);
        Assert.Equal(CheckStatus.Hit, r.Status);
    }

    [Fact]
    public async Task Run_AlignedSpfPassOnly_Pass()
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.com", "v=DMARC1; p=quarantine");
        AuthResult r = await Run(dns, await Context("a@example.com", Dkim("fail", "example.com"), Spf("pass", "bounce@lists.example.com")));

        Assert.Equal("pass", r.Results[0].Result);
    }

    [Fact]
    public async Task Run_DkimPassOfOtherDomain_Fail()
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.com", "v=DMARC1; p=quarantine");
        AuthResult r = await Run(dns, await Context("a@example.com", Dkim("pass", "example.net")));

        Assert.Equal("fail", r.Results[0].Result);
        Assert.Equal("quarantine", r.RequestedPolicy);
    }

    [Fact]
    public async Task Run_SiblingsUnderCoUk_NotAligned()
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.co.uk", "v=DMARC1; p=reject");
        AuthResult r = await Run(dns, await Context("a@a.b.example.co.uk", Dkim("pass", "evil.co.uk"), Dkim("pass", "co.uk")));

        Assert.Equal("fail", r.Results[0].Result);
    }

    [Fact]
    public async Task Run_DeepSubdomainOfCoUk_AlignsRelaxedAndUsesOrgRecordSp()
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.co.uk", "v=DMARC1; p=reject; sp=quarantine");
        AuthResult pass = await Run(dns, await Context("a@a.b.example.co.uk", Dkim("pass", "example.co.uk")));
        AuthResult fail = await Run(dns, await Context("a@a.b.example.co.uk"));

        Assert.Equal("pass", pass.Results[0].Result);
        Assert.Equal("fail", fail.Results[0].Result);
        Assert.Equal("quarantine", fail.RequestedPolicy);
        Assert.Contains("TXT _dmarc.a.b.example.co.uk", dns.Queries);
    }

    [Fact]
    public async Task Run_RecordAtFromDomain_UsesPNotSp()
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.sub.example.com", "v=DMARC1; p=reject; sp=none");
        AuthResult r = await Run(dns, await Context("a@sub.example.com"));

        Assert.Equal("reject", r.RequestedPolicy);
    }

    [Theory]
    [InlineData(49, "reject")]
    [InlineData(50, "quarantine")]
    public async Task Run_PctSampling_DowngradesUnsampledMessages(int random, string expected)
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.com", "v=DMARC1; p=reject; pct=50");
        AuthResult r = await Run(dns, await Context("a@example.com"), random);

        Assert.Equal(expected, r.RequestedPolicy);
    }

    [Fact]
    public async Task Run_NoRecord_None()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 -all");
        AuthResult r = await Run(dns, await Context("a@example.com"));

        Assert.Equal("none", r.Results[0].Result);
        Assert.Null(r.RequestedPolicy);
    }

    [Fact]
    public async Task Run_TwoRecords_NoPolicyAndNoFallback()
    {
        var dns = new DictionaryDnsResolver()
            .Txt("_dmarc.sub.example.com", "v=DMARC1; p=reject")
            .Txt("_dmarc.sub.example.com", "v=DMARC1; p=none")
            .Txt("_dmarc.example.com", "v=DMARC1; p=reject");
        AuthResult r = await Run(dns, await Context("a@sub.example.com"));

        Assert.Equal("none", r.Results[0].Result);
        Assert.DoesNotContain("TXT _dmarc.example.com", dns.Queries);
    }

    [Fact]
    public async Task Run_DnsTimeout_TempError()
    {
        var dns = new DictionaryDnsResolver().Timeout("_dmarc.example.com");
        AuthResult r = await Run(dns, await Context("a@example.com"));

        Assert.Equal("temperror", r.Results[0].Result);
        Assert.NotEqual(CheckStatus.Failed, r.Status);
    }

    [Theory]
    [InlineData("a@example.com, b@example.org")]
    [InlineData("undisclosed:;")]
    [InlineData("no address here")]
    public async Task Run_NotExactlyOneMailbox_PermError(string from)
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.com", "v=DMARC1; p=reject");
        AuthResult r = await Run(dns, await Context(from, Dkim("pass", "example.com")));

        Assert.Equal("permerror", r.Results[0].Result);
        Assert.Empty(r.Results[0].Properties);
    }

    [Fact]
    public async Task Run_TwoFromFields_PermError()
    {
        var dns = new DictionaryDnsResolver().Txt("_dmarc.example.com", "v=DMARC1; p=reject");
        MessageContext ctx = await AuthTestMessage.ContextAsync("From: a@example.com\nFrom: b@evil.example\n\nx\n", new Envelope());
        AuthResult r = Assert.IsType<AuthResult>(await Check(dns).RunAsync(ctx, CancellationToken.None));

        Assert.Equal("permerror", r.Results[0].Result);
        Assert.Contains("more than one From", r.Results[0].Reason);
    }

    [Theory]
    [InlineData("v=DMARC1; p=reject; sp=quarantine; pct=20; adkim=s", "reject", "quarantine", 20, true, false)]
    [InlineData("v=DMARC1;p=none", "none", null, 100, false, false)]
    [InlineData("v=DMARC1; p=bogus; rua=mailto:d@example.com", "none", null, 100, false, false)]
    [InlineData("v=DMARC1; p=reject; pct=150; aspf=s; unknown=1", "reject", null, 100, false, true)]
    public void Parse_Records_TagsRead(string txt, string p, string? sp, int pct, bool strictDkim, bool strictSpf)
    {
        DmarcRecord? r = DmarcRecord.Parse(txt);

        Assert.NotNull(r);
        Assert.Equal((p, sp, pct, strictDkim, strictSpf), (r.Policy, r.SubdomainPolicy, r.Percent, r.StrictDkim, r.StrictSpf));
    }

    [Theory]
    [InlineData("v=DMARC1; p=bogus")]
    [InlineData("v=DMARC1")]
    [InlineData("p=reject; v=DMARC1")]
    [InlineData("v=spf1 -all")]
    public void Parse_InvalidRecords_Null(string txt)
    {
        Assert.Null(DmarcRecord.Parse(txt));
    }

    [Fact]
    public void OrganizationalDomain_NoList_LastTwoLabels()
    {
        var fallback = new OrganizationalDomain((PublicSuffixList?)null);

        Assert.Equal("example.com", fallback.Get("a.b.example.com"));
        Assert.Equal("co.uk", fallback.Get("a.example.co.uk"));
    }

    [Fact]
    public void OrganizationalDomain_MissingFile_FallsBack()
    {
        var org = new OrganizationalDomain(new DmarcOptions { PublicSuffixListPath = "/nonexistent/psl.dat" }, NullLogger<OrganizationalDomain>.Instance);

        Assert.False(org.HasList);
        Assert.Equal("example.com", org.Get("x.example.com"));
    }

    private sealed class FixedRandom(int value) : Random
    {
        public override int Next(int maxValue) => value;
    }
}
