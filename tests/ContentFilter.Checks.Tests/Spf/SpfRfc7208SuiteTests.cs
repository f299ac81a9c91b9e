using System.Net;
using ContentFilter.Checks.Spf;

namespace ContentFilter.Checks.Tests.Spf;

/// <summary>The RFC 7208 test suite (openspf, as shipped by pyspf), read in place from ../shared/testsuites.</summary>
public sealed class SpfRfc7208SuiteTests
{
    private static readonly string SuitePath = Path.Combine(TestPaths.TestSuites, "spf", "rfc7208-tests.yml");

    /// <summary>Cases whose expected result we knowingly do not give, with the reason. Empty means every case passes.</summary>
    private static readonly Dictionary<string, string> KnownDifferences = new(StringComparer.Ordinal);

    private static readonly Lazy<IReadOnlyList<SpfSuiteCase>> Suite = new(() => SpfTestSuite.Load(SuitePath));

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        if (!File.Exists(SuitePath))
        {
            data.Add("(suite absent)");
            return data;
        }
        foreach (SpfSuiteCase c in Suite.Value)
        {
            data.Add(c.Name);
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(CaseNames))]
    public async Task CheckHost_Rfc7208SuiteCase_GivesExpectedResult(string name)
    {
        Skip.IfNot(File.Exists(SuitePath), $"{SuitePath} not found");
        Skip.If(KnownDifferences.TryGetValue(name, out string? why), why);
        SpfSuiteCase c = Suite.Value.Single(x => x.Name == name);

        SpfEvaluation result = await Evaluate(c);

        Assert.True(c.Results.Contains(result.Result.ToKeyword()), $"{c.Scenario}/{c.Name}: expected {string.Join(" or ", c.Results)}, got {result.Result.ToKeyword()} ({result.Problem})");
        if (result.Result == SpfResult.Fail && c.Explanation is not null && c.Explanation != "DEFAULT")
        {
            // Case-insensitive: pyspf keeps the hex case of the client address in %{i} (v-macro-ip6 expects
            // "E.B.A.B..."), we write lowercase nibbles as RFC 7208 §7.3's own example does. DNS does not care.
            Assert.Equal(c.Explanation, result.Explanation, ignoreCase: true);
        }
    }

    internal static Task<SpfEvaluation> Evaluate(SpfSuiteCase c)
    {
        var evaluator = new SpfEvaluator(c.Zone, new SpfLimits(), TimeProvider.System, "receiver.example");
        string sender = c.MailFrom.Length == 0 ? "postmaster@" + c.Helo : c.MailFrom;
        int at = sender.LastIndexOf('@');
        string domain = at < 0 ? c.Helo : sender[(at + 1)..];
        return evaluator.CheckHostAsync(IPAddress.Parse(c.Host), domain, sender, c.Helo, CancellationToken.None);
    }
}
