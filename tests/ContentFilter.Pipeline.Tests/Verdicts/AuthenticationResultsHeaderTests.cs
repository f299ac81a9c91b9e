using System.Text;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Pipeline.Tests.Verdicts;

public sealed class AuthenticationResultsHeaderTests
{
    private static AuthMethodResult R(string method, string result, params (string Key, string Value)[] props) =>
        new(method, result, null, props.Select(p => new KeyValuePair<string, string>(p.Key, p.Value)).ToList());

    [Fact]
    public void Format_NoResults_None()
    {
        Assert.Equal("mx.example.net; none", AuthenticationResultsHeader.Format("mx.example.net", Array.Empty<AuthMethodResult>()));
    }

    [Fact]
    public void Format_SeveralResults_OneResinfoPerFoldedLine()
    {
        string v = AuthenticationResultsHeader.Format("mx.example.net", new[]
        {
            R("spf", "pass", ("smtp.mailfrom", "user@example.com")) with { Comment = "mx.example.net: domain of example.com designates 192.0.2.1 as permitted sender" },
            R("dkim", "fail", ("header.d", "example.com"), ("header.b", "ab+/cd==")) with { Reason = "body hash did not verify" },
            R("dmarc", "fail", ("header.from", "example.com")) with { Comment = "p=reject dis=reject" },
        });

        Assert.Equal(
            "mx.example.net;\r\n"
            + "\tspf=pass (mx.example.net: domain of example.com designates 192.0.2.1 as permitted sender) smtp.mailfrom=user@example.com;\r\n"
            + "\tdkim=fail reason=\"body hash did not verify\" header.d=example.com header.b=\"ab+/cd==\";\r\n"
            + "\tdmarc=fail (p=reject dis=reject) header.from=example.com",
            v);
    }

    [Fact]
    public void Format_HostileValues_QuotedAndNoLineBreakInjected()
    {
        string v = AuthenticationResultsHeader.Format("mx.example.net", new[]
        {
            R("spf", "fail", ("smtp.mailfrom", "\"x\r\nBcc: a@b\"@example.com")) with { Comment = "evil) (x\r\nX-Injected: 1", Reason = "a\"b\\c" },
        });

        Assert.Equal(1, v.Split("\r\n").Count(l => !l.StartsWith('\t') && l.Length > 0));
        Assert.DoesNotContain("\r\nBcc", v);
        Assert.DoesNotContain("\r\nX-Injected", v);
        Assert.Contains("(evil\\) \\(x  X-Injected: 1)", v);
        Assert.Contains("reason=\"a\\\"b\\\\c\"", v);
        Assert.Contains("smtp.mailfrom=\"\\\"x  Bcc: a@b\\\"@example.com\"", v);
    }

    [Fact]
    public void Format_AuthServIdWithSpecials_Quoted()
    {
        Assert.StartsWith("\"mx example\";", AuthenticationResultsHeader.Format("mx example", new[] { R("spf", "none") }));
    }

    [Theory]
    [InlineData("mx.example.net; spf=pass", true)]
    [InlineData("MX.Example.NET; dkim=pass", true)]
    [InlineData("mx.example.net 1; spf=pass", true)]
    [InlineData("(forged by spammer) mx.example.net; spf=pass", true)]
    [InlineData("mx.example.net (comment); spf=pass", true)]
    [InlineData("\"mx.example.net\"; spf=pass", true)]
    [InlineData("mx.example.net.; spf=pass", true)]
    [InlineData("  mx.example.net;", true)]
    [InlineData("mx.example.net", true)]
    [InlineData("other.example.net; spf=pass smtp.mailfrom=mx.example.net", false)]
    [InlineData("mx.example.net.evil; spf=pass", false)]
    [InlineData("sub.mx.example.net; spf=pass", false)]
    [InlineData("\"mx.example.net;x\"; spf=pass", false)]
    [InlineData("(mx.example.net) other.example; spf=pass", false)]
    [InlineData("", false)]
    public void ClaimsAuthServId_Variants_RecognisesOurs(string value, bool expected)
    {
        Assert.Equal(expected, AuthenticationResultsHeader.ClaimsAuthServId(value, "mx.example.net"));
    }

    [Fact]
    public async Task Decide_InboundWithForgedAndForeignAr_RemovesOursKeepsForeignAddsOneOnTop()
    {
        const string message =
            "Authentication-Results: other.example.org; spf=pass smtp.mailfrom=a@example.com\r\n"
            + "Authentication-Results: (looks legit) MX.example.net; dkim=pass header.d=bank.example\r\n"
            + "Received: from x\r\n"
            + "Authentication-Results: \"mx.example.net\"; dmarc=pass\r\n"
            + "From: a@example.com\r\n"
            + "\r\n"
            + "body\r\n";
        await using var spool = new MessageSpool(new SpoolOptions { Directory = Path.GetTempPath(), InMemoryThreshold = 1 << 20 }, "artest" + Guid.NewGuid().ToString("N")[..6]);
        await spool.WriteAsync(Encoding.ASCII.GetBytes(message), CancellationToken.None);
        await spool.CompleteAsync(CancellationToken.None);
        var ctx = new MessageContext("MAILID000001", new Envelope { MailFrom = "a@example.com" }, spool, spool.ReadHeaders(65536), ListenerPolicy.DefaultInbound, FrontDoor.Smtp, DateTimeOffset.UnixEpoch)
        {
            Direction = MessageDirection.Inbound,
        };
        ctx.AddResult(new AuthResult { Check = "spf", Status = CheckStatus.Ok, Results = new[] { R("spf", "pass", ("smtp.mailfrom", "a@example.com")) } });
        ctx.AddResult(new AuthResult { Check = "dmarc", Status = CheckStatus.Ok, Results = new[] { R("dmarc", "pass", ("header.from", "example.com")) } });
        var policy = new VerdictPolicy(new VerdictPolicyOptions { AuthServId = "mx.example.net", HostName = "mx.example.net" });

        Verdict verdict = policy.Decide(ctx);

        Assert.Equal(VerdictAction.Deliver, verdict.Action);
        IReadOnlyList<(string Name, string Value)> final = verdict.Edits.Apply(ctx.Headers);
        var ar = final.Where(h => h.Name.Equals("Authentication-Results", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.Equal(2, ar.Count);
        Assert.Equal("mx.example.net;\r\n\tspf=pass smtp.mailfrom=a@example.com;\r\n\tdmarc=pass header.from=example.com", ar[0].Value);
        Assert.Equal(ar[0], final[0]);
        Assert.Contains("other.example.org", ar[1].Value);
        Assert.DoesNotContain(final, h => h.Value.Contains("bank.example", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Decide_Originating_KeepsExistingArAndAddsNone()
    {
        const string message = "Authentication-Results: mx.example.net; spf=pass\r\nFrom: a@example.com\r\n\r\nbody\r\n";
        await using var spool = new MessageSpool(new SpoolOptions { Directory = Path.GetTempPath(), InMemoryThreshold = 1 << 20 }, "artest" + Guid.NewGuid().ToString("N")[..6]);
        await spool.WriteAsync(Encoding.ASCII.GetBytes(message), CancellationToken.None);
        await spool.CompleteAsync(CancellationToken.None);
        var ctx = new MessageContext("MAILID000002", new Envelope(), spool, spool.ReadHeaders(65536), ListenerPolicy.DefaultInbound, FrontDoor.Smtp, DateTimeOffset.UnixEpoch)
        {
            Direction = MessageDirection.Originating,
        };
        var policy = new VerdictPolicy(new VerdictPolicyOptions { AuthServId = "mx.example.net", HostName = "mx.example.net" });

        Verdict verdict = policy.Decide(ctx);

        Assert.DoesNotContain(verdict.Edits, e => e.Name.Equals("Authentication-Results", StringComparison.OrdinalIgnoreCase));
    }
}
