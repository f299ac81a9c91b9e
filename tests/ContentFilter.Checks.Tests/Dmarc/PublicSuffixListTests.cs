using System.Text.RegularExpressions;
using ContentFilter.Checks.Dmarc;

namespace ContentFilter.Checks.Tests.Dmarc;

public sealed class PublicSuffixListTests
{
    private static readonly string PslDir = Path.Combine(SuitePaths.TestSuites, "dmarc", "psl");

    private static readonly PublicSuffixList Small = PublicSuffixList.Parse(new[]
    {
        "// comment", "com", "uk", "co.uk", "*.ck", "!www.ck", "*.kawasaki.jp", "!city.kawasaki.jp", "jp", "kawasaki.jp",
    });

    [Theory]
    [InlineData("example.co.uk", "example.co.uk")]
    [InlineData("a.b.example.co.uk", "example.co.uk")]
    [InlineData("co.uk", null)]
    [InlineData("EXAMPLE.com", "example.com")]
    [InlineData("b.test.ck", "b.test.ck")]
    [InlineData("test.ck", null)]
    [InlineData("www.ck", "www.ck")]
    [InlineData("a.www.ck", "www.ck")]
    [InlineData("city.kawasaki.jp", "city.kawasaki.jp")]
    [InlineData("x.city.kawasaki.jp", "city.kawasaki.jp")]
    [InlineData("x.other.kawasaki.jp", "x.other.kawasaki.jp")]
    [InlineData("example.unlisted", "example.unlisted")]
    [InlineData(".example.com", null)]
    [InlineData("a..example.com", null)]
    public void GetRegistrableDomain_Rules_GivesOrganisationalDomain(string domain, string? expected)
    {
        Assert.Equal(expected, Small.GetRegistrableDomain(domain));
    }

    [SkippableFact]
    public void GetRegistrableDomain_PslProjectVectors_AllMatch()
    {
        string list = Path.Combine(PslDir, "public_suffix_list.dat");
        string vectors = Path.Combine(PslDir, "test_psl.txt");
        Skip.IfNot(File.Exists(list) && File.Exists(vectors), "PSL test vectors not found");
        PublicSuffixList psl = PublicSuffixList.Load(list);
        var call = new Regex(@"^checkPublicSuffix\((null|'[^']*'),\s*(null|'[^']*')\);");
        var failures = new List<string>();
        int count = 0;
        foreach (string line in File.ReadLines(vectors))
        {
            Match m = call.Match(line.Trim());
            if (!m.Success)
            {
                continue;
            }
            count++;
            string? input = m.Groups[1].Value == "null" ? null : m.Groups[1].Value.Trim('\'');
            string? expected = m.Groups[2].Value == "null" ? null : m.Groups[2].Value.Trim('\'');
            string? actual = psl.GetRegistrableDomain(input);
            if (actual != expected)
            {
                failures.Add($"{input}: expected {expected ?? "null"}, got {actual ?? "null"}");
            }
        }
        Assert.True(count > 50, $"only {count} vectors read");
        Assert.Empty(failures);
    }

    [SkippableFact]
    public void GetRegistrableDomain_OpenDmarcOrgDomainCases_Match()
    {
        string list = Path.Combine(SuitePaths.TestSuites, "dmarc", "opendmarc", "effective_tld_names.dat");
        string cases = Path.Combine(SuitePaths.TestSuites, "dmarc", "opendmarc-orgdomain.tsv");
        Skip.IfNot(File.Exists(list) && File.Exists(cases), "OpenDMARC cases not found");
        PublicSuffixList psl = PublicSuffixList.Load(list);
        int count = 0;
        foreach (string line in File.ReadLines(cases).Where(l => !l.StartsWith('#')))
        {
            string[] f = line.Split('\t');
            if (f[1].Contains('\\'))
            {
                continue; // row 4: C escapes kept verbatim from a broken upstream test, not a domain name
            }
            count++;
            Assert.Equal(f[2], psl.GetRegistrableDomain(f[1]));
        }
        Assert.Equal(3, count);
    }

    [SkippableFact]
    public void Load_DebianPackageList_KnowsCoUk()
    {
        const string path = "/usr/share/publicsuffix/public_suffix_list.dat";
        Skip.IfNot(File.Exists(path), "publicsuffix package not installed");
        PublicSuffixList psl = PublicSuffixList.Load(path);
        Assert.Equal("example.co.uk", psl.GetRegistrableDomain("a.b.example.co.uk"));
    }
}
