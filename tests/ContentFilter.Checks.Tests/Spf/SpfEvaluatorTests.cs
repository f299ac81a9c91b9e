using System.Net;
using ContentFilter.Checks.Spf;
using ContentFilter.Checks.Tests.Dns;

namespace ContentFilter.Checks.Tests.Spf;

public sealed class SpfEvaluatorTests
{
    private static Task<SpfEvaluation> Evaluate(DictionaryDnsResolver dns, string ip, string sender = "user@example.com", SpfLimits? limits = null)
    {
        var evaluator = new SpfEvaluator(dns, limits ?? new SpfLimits(), TimeProvider.System, "mx.example.net");
        return evaluator.CheckHostAsync(IPAddress.Parse(ip), sender[(sender.IndexOf('@') + 1)..], sender, "helo.example.org", CancellationToken.None);
    }

    [Fact]
    public async Task CheckHost_ElevenIncludes_PermErrorAndStopsQuerying()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 " + string.Join(' ', Enumerable.Range(1, 12).Select(i => $"include:i{i}.example.com")) + " -all");
        for (int i = 1; i <= 12; i++)
        {
            dns.Txt($"i{i}.example.com", "v=spf1 -all");
        }

        SpfEvaluation result = await Evaluate(dns, "192.0.2.1");

        Assert.Equal(SpfResult.PermError, result.Result);
        Assert.DoesNotContain("TXT i11.example.com", dns.Queries);
    }

    [Fact]
    public async Task CheckHost_TenIncludes_StillEvaluated()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 " + string.Join(' ', Enumerable.Range(1, 10).Select(i => $"include:i{i}.example.com")) + " -all");
        for (int i = 1; i <= 10; i++)
        {
            dns.Txt($"i{i}.example.com", i == 10 ? "v=spf1 ip4:192.0.2.1 -all" : "v=spf1 -all");
        }

        Assert.Equal(SpfResult.Pass, (await Evaluate(dns, "192.0.2.1")).Result);
    }

    [Fact]
    public async Task CheckHost_ThirdVoidLookup_PermError()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com -all");

        SpfEvaluation result = await Evaluate(dns, "192.0.2.1");

        Assert.Equal(SpfResult.PermError, result.Result);
        Assert.Contains("void", result.Problem);
    }

    [Fact]
    public async Task CheckHost_MacroExists_ExpandsLocalPartAndIp()
    {
        var dns = new DictionaryDnsResolver()
            .Txt("example.com", "v=spf1 exists:%{l}.%{ir}.%{d2}._spf.example.com -all")
            .A("user.1.2.0.192.example.com._spf.example.com", "127.0.0.2");

        Assert.Equal(SpfResult.Pass, (await Evaluate(dns, "192.0.2.1")).Result);
    }

    [Fact]
    public async Task CheckHost_Ip6ClientIp4MappedAddress_TreatedAsIpv4()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");

        Assert.Equal(SpfResult.Pass, (await Evaluate(dns, "::ffff:192.0.2.7")).Result);
    }

    [Fact]
    public async Task CheckHost_SoftFailWithExplanation_NoExplanationUnlessFail()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 ~all exp=why.example.com").Txt("why.example.com", "%{i} not allowed");

        SpfEvaluation result = await Evaluate(dns, "192.0.2.1");

        Assert.Equal(SpfResult.SoftFail, result.Result);
        Assert.Null(result.Explanation);
    }

    [Fact]
    public async Task CheckHost_FailWithExplanation_MacrosExpanded()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 -all exp=why.example.com").Txt("why.example.com", "%{i} may not send for %{d} (see %{r})");

        SpfEvaluation result = await Evaluate(dns, "192.0.2.1");

        Assert.Equal("192.0.2.1 may not send for example.com (see mx.example.net)", result.Explanation);
    }
}
