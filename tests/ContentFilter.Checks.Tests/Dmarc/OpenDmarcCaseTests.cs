using ContentFilter.Checks.Dmarc;

namespace ContentFilter.Checks.Tests.Dmarc;

/// <summary>OpenDMARC's alignment and author-domain unit cases (transcribed tables), read in place.</summary>
public sealed class OpenDmarcCaseTests
{
    private static readonly string Dir = Path.Combine(SuitePaths.TestSuites, "dmarc");

    [SkippableFact]
    public void IsAligned_OpenDmarcAlignmentCases_Match()
    {
        string cases = Path.Combine(Dir, "opendmarc-alignment.tsv");
        string list = Path.Combine(Dir, "opendmarc", "effective_tld_names.dat");
        Skip.IfNot(File.Exists(cases) && File.Exists(list), "OpenDMARC cases not found");
        var org = new OrganizationalDomain(PublicSuffixList.Load(list));
        int count = 0;
        foreach (string[] f in File.ReadLines(cases).Where(l => !l.StartsWith('#')).Select(l => l.Split('\t')))
        {
            count++;
            bool aligned = DmarcAlignment.IsAligned(f[1], f[2], f[3] == "STRICT", org);
            Assert.True(aligned == (f[4] == "0"), $"row {f[0]}: {f[1]} vs {f[2]} {f[3]}: expected {f[4]}");
        }
        Assert.Equal(10, count);
    }

    [SkippableFact]
    public void AuthorDomain_OpenDmarcFindDomainCases_SingleMailboxFoundMultipleRefused()
    {
        string cases = Path.Combine(Dir, "opendmarc-finddomain.tsv");
        Skip.IfNot(File.Exists(cases), "OpenDMARC cases not found");
        var results = new List<string>();
        foreach (string[] f in File.ReadLines(cases).Where(l => !l.StartsWith('#')).Select(l => l.Split('\t')))
        {
            string? domain = DmarcCheck.AuthorDomain(f[1], out string? problem);
            results.Add($"{f[1]} => {domain ?? "refused: " + problem}");
        }

        // Where OpenDMARC picks the first of several mailboxes, a DMARC verifier must refuse (RFC 7489 §6.6.1);
        // the garbage, "Mail From:" and "From: ..." rows are not one RFC 5322 mailbox either. A quoted phrase before a
        // bare address is sloppy but unambiguous and accepted, as OpenDMARC does.
        string[] expected =
        {
            "Joe Johnson <joe@joe.com> => joe.com",
            "\"Johnson, Joe <joe@joe.com>\" joe@joe.com => joe.com",
            "\"Joe Johnson\" <joe@joe.com> => joe.com",
            "(Joe Johnson) joe@joe.com => joe.com",
            "joe@joe.com => joe.com",
            "<<<><joe@joe.com>>> => refused: From does not hold exactly one mailbox",
            "Joe Johnson <joe@joe.com>, ace@ace.com => refused: From does not hold exactly one mailbox",
            "joe@joe.com, ace@ace.com => refused: From does not hold exactly one mailbox",
            "Mail From:<joe@joe.com> => refused: From does not hold exactly one mailbox",
            "\"Mandel, Bob\" <joe@joe.com> => joe.com",
            "(,) joe@joe.com => joe.com",
            "\"( bob@bob.com)\" joe@joe.com => joe.com",
            "From: Davide D'Marco <user@blah.com> => refused: From does not hold exactly one mailbox",
        };
        Assert.Equal(expected, results);
    }
}
