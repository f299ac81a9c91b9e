using System.Text;
using ContentFilter.Checks.Arc;
using ContentFilter.Checks.Dkim;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Tests.Arc;

/// <summary>arc-draft-sign-tests.yml: our ARC set builder must produce the published AAR, AMS and AS (b= included) for every test.</summary>
/// <remarks>
/// The suite fixes the tag format (alphabetical, one space after each semicolon) so that b= is predictable; values
/// are compared with all white space removed, as the expected values are folded in the YAML. The AAR payload is
/// the message's Authentication-Results fields of the sealer's authserv-id merged, and cv= is their <c>arc=</c>.
/// </remarks>
public sealed class ArcSignSuiteTests
{
    public static IEnumerable<object[]> Cases() => ArcTestSuite.Cases("arc-draft-sign-tests.yml");

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Suite_Seal_ProducesPublishedFields(string scenario, string test)
    {
        (ArcTestSuite.Scenario s, var node) = ArcTestSuite.Find("arc-draft-sign-tests.yml", scenario, test);
        string srvId = ArcTestSuite.Scalar(node, "srv-id")!;
        long t = long.Parse(ArcTestSuite.Scalar(node, "t")!, System.Globalization.CultureInfo.InvariantCulture);
        string[] sigHeaders = ArcTestSuite.Scalar(node, "sig-headers")!.Split(':');
        using DkimPrivateKey key = DkimPrivateKey.Parse(ArcTestSuite.Scalar(s.Node, "privatekey")!);

        await using MessageSpool spool = await Dkim.TestMessages.SpoolAsync(Dkim.TestMessages.Crlf(ArcTestSuite.Scalar(node, "message")!));
        MessageHeaders headers = spool.ReadHeaders(1024 * 1024);
        IReadOnlyList<HeaderField> fields = headers.Fields;
        Assert.True(ArcChain.TryParse(fields, out ArcChain chain, out string? error), error);

        if (ArcSealBuilder.WhyNotSeal(chain) is not null)
        {
            Assert.Equal(string.Empty, ArcTestSuite.Scalar(node, "AMS")?.Trim() ?? string.Empty);
            Assert.Equal(string.Empty, ArcTestSuite.Scalar(node, "AS")?.Trim() ?? string.Empty);
            return;
        }

        // Merge our authserv-id's A-R fields into one payload; cv is their arc= result.
        var parts = new List<string>();
        foreach (HeaderField f in fields.Where(f => f.Is("Authentication-Results")))
        {
            string v = Unfold(f.Value);
            int semi = v.IndexOf(';');
            string id = semi < 0 ? v : v[..semi].Trim();
            if (!id.Equals(srvId, StringComparison.OrdinalIgnoreCase) || semi < 0)
            {
                continue;
            }
            parts.AddRange(v[(semi + 1)..].Split(';').Select(p => p.Trim()).Where(p => p.Length > 0));
        }
        string cv = parts.Select(p => p.Split('=', 2)).Where(p => p[0] == "arc").Select(p => p[1].Split(' ')[0]).FirstOrDefault() ?? "none";
        string payload = srvId + "; " + string.Join("; ", parts);

        byte[] bodyHash;
        await using (Stream body = spool.OpenRead())
        {
            body.Seek(spool.BodyOffset, SeekOrigin.Begin);
            bodyHash = await DkimSignatureBuilder.HashBodyAsync(body, DkimCanonicalization.Relaxed, CancellationToken.None);
        }
        var (aar, ams, seal) = ArcSealBuilder.Build(fields, chain.Sets, bodyHash, key, ArcTestSuite.Scalar(s.Node, "domain")!,
            ArcTestSuite.Scalar(s.Node, "sel")!, cv, payload, sigHeaders, DateTimeOffset.FromUnixTimeSeconds(t), fold: false);

        Assert.Equal(NoSpace(ArcTestSuite.Scalar(node, "AAR")!), NoSpace(aar));
        Assert.Equal(NoSpace(ArcTestSuite.Scalar(node, "AMS")!), NoSpace(ams));
        Assert.Equal(NoSpace(ArcTestSuite.Scalar(node, "AS")!), NoSpace(seal));
    }

    private static string Unfold(string s) => string.Join(' ', s.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries));

    private static string NoSpace(string s) => new(s.Where(c => !char.IsWhiteSpace(c)).ToArray());
}
