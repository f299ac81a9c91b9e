using System.Text;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Pipeline.Tests.Verdicts;

/// <summary>The scanning part of the policy as a table: results + door + direction -> action, reply, headers.</summary>
public class VerdictPolicyScanningTests
{
    private const string Message = "From: a@example.org\r\nTo: b@example.net\r\nSubject: hello\r\nX-Spam-Flag: YES\r\nX-Spam-Score: 99\r\n\r\nbody\r\n";

    private static async Task<MessageContext> ContextAsync(FrontDoor door, MessageDirection direction, string[] recipients, params CheckResult[] results)
    {
        var spool = new MessageSpool(new SpoolOptions { Directory = Path.GetTempPath() }, MailId.New());
        await spool.WriteAsync(Encoding.ASCII.GetBytes(Message), CancellationToken.None);
        await spool.CompleteAsync(CancellationToken.None);
        var envelope = new Envelope { MailFrom = "a@example.org" };
        foreach (string r in recipients)
        {
            envelope.Recipients.Add(new EnvelopeRecipient(r, Array.Empty<string>()));
        }
        var listener = new ListenerPolicy { Name = direction == MessageDirection.Inbound ? "inbound" : "originating", Direction = direction };
        var context = new MessageContext("AAAAAAAAAAAA", envelope, spool, spool.ReadHeaders(65536), listener, door, DateTimeOffset.UnixEpoch) { Direction = direction };
        foreach (CheckResult r in results)
        {
            context.AddResult(r);
        }
        return context;
    }

    private static CheckResult Virus(CheckStatus s, bool oversized = false) =>
        new VirusScanResult { Check = "clamav", Status = s, Viruses = s == CheckStatus.Hit ? new[] { "Eicar-Test.UNOFFICIAL" } : Array.Empty<string>(), Oversized = oversized };

    private static CheckResult SpamResult(double score) =>
        new SpamScanResult { Check = "spamassassin", Status = score >= 5 ? CheckStatus.Hit : CheckStatus.Ok, Score = score, Threshold = 5, Rules = new[] { "R1", "R2" } };

    private static CheckResult Result(string kind) => kind switch
    {
        "virus" => Virus(CheckStatus.Hit),
        "clean" => Virus(CheckStatus.Ok),
        "avfail" => Virus(CheckStatus.Failed),
        "avthrew" => CheckResult.Failure("clamav", "IOException: boom"),
        "avbig" => Virus(CheckStatus.Skipped, oversized: true),
        "banned" => new BannedContentResult { Check = "banned", Status = CheckStatus.Hit, Offending = new[] { "a.pdf.exe" } },
        "spamfail" => new SpamScanResult { Check = "spamassassin", Status = CheckStatus.Failed, Detail = "down" },
        "spamthrew" => CheckResult.Failure("spamassassin", "boom"),
        _ when kind.StartsWith("spam=", StringComparison.Ordinal) => SpamResult(double.Parse(kind[5..], System.Globalization.CultureInfo.InvariantCulture)),
        _ => throw new ArgumentException(kind),
    };

    public static TheoryData<string, FrontDoor, MessageDirection, VerdictAction, int?, string, bool> Table => new()
    {
        // results (comma-separated), door, direction, action, reply code, category, quarantined
        { "virus", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.Discard, 250, "INFECTED", true },
        { "virus", FrontDoor.Milter, MessageDirection.Inbound, VerdictAction.Reject, 554, "INFECTED", true },
        { "virus", FrontDoor.Smtp, MessageDirection.Originating, VerdictAction.Discard, 250, "INFECTED", true },
        { "avfail", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.TempFail, 451, "UNCHECKED", false },
        { "avthrew", FrontDoor.Milter, MessageDirection.Inbound, VerdictAction.TempFail, 451, "UNCHECKED", false },
        { "avbig", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.Deliver, null, "CLEAN", false },
        { "clean,banned", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.Discard, 250, "BANNED", true },
        { "clean,banned", FrontDoor.Milter, MessageDirection.Inbound, VerdictAction.Reject, 554, "BANNED", true },
        { "clean,spam=1.5", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.Deliver, null, "CLEAN", false },
        { "clean,spam=6.31", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.Discard, 250, "SPAM", true },
        { "clean,spam=1000", FrontDoor.Milter, MessageDirection.Inbound, VerdictAction.Reject, 554, "SPAM", true },
        { "clean,spam=1000", FrontDoor.Smtp, MessageDirection.Originating, VerdictAction.Deliver, null, "CLEAN", false },
        { "clean,spamfail", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.Deliver, null, "CLEAN", false },
        { "clean,spamthrew", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.Deliver, null, "CLEAN", false },
        { "avfail,spam=1000", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.TempFail, 451, "UNCHECKED", false },
        { "virus,spam=1000", FrontDoor.Smtp, MessageDirection.Inbound, VerdictAction.Discard, 250, "INFECTED", true },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public async Task Decide_Table_ActionReplyCategory(string results, FrontDoor door, MessageDirection direction, VerdictAction action, int? code, string category, bool quarantine)
    {
        MessageContext context = await ContextAsync(door, direction, new[] { "b@example.net" }, results.Split(',').Select(Result).ToArray());

        Verdict v = new VerdictPolicy(new VerdictPolicyOptions { HostName = "mx.example.net" }).Decide(context);

        Assert.Equal(action, v.Action);
        Assert.Equal(code, v.Reply?.Code);
        Assert.Equal(category, v.Category);
        Assert.Equal(quarantine, v.Quarantine);
        if (v.Reply is { Code: 554 } or { Code: 451 })
        {
            Assert.Equal(v.Reply.Code == 554 ? "5.7.1" : "4.3.0", v.Reply.EnhancedCode);
        }
    }

    [Fact]
    public async Task Decide_Tag2_FlagSubjectAndStatusAndForeignSpamHeadersRemoved()
    {
        MessageContext context = await ContextAsync(FrontDoor.Smtp, MessageDirection.Inbound, new[] { "b@example.net" }, Virus(CheckStatus.Ok), SpamResult(7));
        var options = new VerdictPolicyOptions { HostName = "mx.example.net", SpamKillLevel = 10 };

        Verdict v = new VerdictPolicy(options).Decide(context);

        Assert.Equal(VerdictAction.Deliver, v.Action);
        Assert.Equal("SPAMMY", v.Category);
        var final = v.Edits.Apply(context.Headers).ToList();
        Assert.Contains(("X-Spam-Flag", "YES"), final);
        Assert.Contains(("X-Virus-Scanned", "ContentFilter at mx.example.net"), final);
        Assert.Contains(final, h => h.Name == "X-Spam-Status" && h.Value.StartsWith("Yes, score=7 tag=- tag2=6.31 kill=10", StringComparison.Ordinal) && h.Value.Contains("tests=[R1,R2]"));
        Assert.Contains(("Subject", "***SPAM*** hello"), final);
        Assert.DoesNotContain(("X-Spam-Score", "99"), final);
        Assert.Single(final, h => h.Name == "X-Spam-Flag");
    }

    [Fact]
    public async Task Decide_LowScore_FlagNoAndSubjectUntouched()
    {
        MessageContext context = await ContextAsync(FrontDoor.Smtp, MessageDirection.Inbound, new[] { "b@example.net" }, Virus(CheckStatus.Ok), SpamResult(-1.9));

        var final = new VerdictPolicy(new VerdictPolicyOptions { HostName = "h" }).Decide(context).Edits.Apply(context.Headers).ToList();

        Assert.Contains(("X-Spam-Flag", "NO"), final);
        Assert.Contains(("X-Spam-Level", string.Empty), final);
        Assert.Contains(("Subject", " hello"), final);
    }

    [Fact]
    public async Task Decide_SpamScannerFailed_DeliveredWithUnchecked_OrTempFailWhenConfigured()
    {
        MessageContext context = await ContextAsync(FrontDoor.Smtp, MessageDirection.Inbound, new[] { "b@example.net" }, Virus(CheckStatus.Ok), Result("spamthrew"));

        Verdict open = new VerdictPolicy(new VerdictPolicyOptions { HostName = "h" }).Decide(context);
        Verdict closed = new VerdictPolicy(new VerdictPolicyOptions { HostName = "h", SpamScannerFailure = ScannerFailureAction.TempFail }).Decide(context);

        Assert.Contains(new HeaderEdit.Add("X-Spam-Status", "Unchecked"), open.Edits);
        Assert.Equal(VerdictAction.TempFail, closed.Action);
    }

    [Fact]
    public async Task Decide_VirusScannerFailedAndConfiguredOpen_DeliveredMarkedUnchecked()
    {
        MessageContext context = await ContextAsync(FrontDoor.Smtp, MessageDirection.Inbound, new[] { "b@example.net" }, Result("avfail"));

        Verdict v = new VerdictPolicy(new VerdictPolicyOptions { HostName = "h", VirusScannerFailure = ScannerFailureAction.Accept }).Decide(context);

        Assert.Equal(VerdictAction.Deliver, v.Action);
        Assert.Contains(new HeaderEdit.Add("X-Virus-Scanned", "Unchecked by ContentFilter at h"), v.Edits);
    }

    [Fact]
    public async Task Decide_OversizedConfiguredTempFail_452()
    {
        MessageContext context = await ContextAsync(FrontDoor.Smtp, MessageDirection.Inbound, new[] { "b@example.net" }, Result("avbig"));

        Verdict v = new VerdictPolicy(new VerdictPolicyOptions { HostName = "h", VirusOversized = ScannerFailureAction.TempFail }).Decide(context);
        Verdict open = new VerdictPolicy(new VerdictPolicyOptions { HostName = "h" }).Decide(context);

        Assert.Equal(VerdictAction.TempFail, v.Action);
        Assert.Equal("OVERSIZED", v.Category);
        Assert.Contains(new HeaderEdit.Add("X-Virus-Scanned", "Unchecked (too large) by ContentFilter at h"), open.Edits);
    }

    [Fact]
    public async Task Decide_Originating_NoSpamHeadersButVirusScanned()
    {
        MessageContext context = await ContextAsync(FrontDoor.Smtp, MessageDirection.Originating, new[] { "x@remote.example" }, Virus(CheckStatus.Ok), SpamResult(1000));

        Verdict v = new VerdictPolicy(new VerdictPolicyOptions { HostName = "h" }).Decide(context);

        Assert.Equal(VerdictAction.Deliver, v.Action);
        Assert.DoesNotContain(v.Edits, e => e.Name.StartsWith("X-Spam-", StringComparison.Ordinal));
        Assert.Contains(new HeaderEdit.Add("X-Virus-Scanned", "ContentFilter at h"), v.Edits);
    }

    public static TheoryData<string[], double, VerdictAction, string> DomainTable => new()
    {
        // recipients, score, action, X-Spam-Flag ("" = none)
        { new[] { "u@strict.example" }, 4.0, VerdictAction.Discard, "" },
        { new[] { "u@lenient.example" }, 8.0, VerdictAction.Deliver, "NO" },
        { new[] { "u@sub.lenient.example" }, 8.0, VerdictAction.Deliver, "NO" },
        { new[] { "u@plain.example" }, 8.0, VerdictAction.Discard, "" },
        { new[] { "u@plain.example" }, 5.0, VerdictAction.Deliver, "NO" },
        { new[] { "u@strict.example", "v@lenient.example" }, 8.0, VerdictAction.Deliver, "YES" },
        { new[] { "u@strict.example", "v@lenient.example" }, 25.0, VerdictAction.Discard, "" },
        { new[] { "u@elsewhere.example" }, 8.0, VerdictAction.Discard, "" },
        { new[] { "u@elsewhere.example" }, 3.0, VerdictAction.Deliver, "" },
    };

    [Theory]
    [MemberData(nameof(DomainTable))]
    public async Task Decide_DomainOverrides_RecipientDomainDecides(string[] recipients, double score, VerdictAction action, string flag)
    {
        var options = new VerdictPolicyOptions
        {
            HostName = "h",
            LocalDomains = { "strict.example", ".lenient.example", "plain.example" },
            DomainOverrides =
            {
                ["strict.example"] = new SpamLevelOverride { Tag2Level = 3, KillLevel = 3.5 },
                [".lenient.example"] = new SpamLevelOverride { Tag2Level = 9, KillLevel = 20 },
            },
        };
        MessageContext context = await ContextAsync(FrontDoor.Smtp, MessageDirection.Inbound, recipients, Virus(CheckStatus.Ok), SpamResult(score));

        Verdict v = new VerdictPolicy(options).Decide(context);

        Assert.Equal(action, v.Action);
        string? shown = v.Edits.OfType<HeaderEdit.Add>().FirstOrDefault(e => e.Name == "X-Spam-Flag")?.Value;
        Assert.Equal(flag, shown ?? string.Empty);
    }

    [Fact]
    public async Task Decide_SharedLocalDomainsSet_UsedForLocalness()
    {
        var shared = new ContentFilter.Pipeline.Policy.LocalDomains(new[] { "example.net" });
        MessageContext local = await ContextAsync(FrontDoor.Smtp, MessageDirection.Inbound, new[] { "b@example.net" }, Virus(CheckStatus.Ok), SpamResult(1));
        MessageContext foreign = await ContextAsync(FrontDoor.Smtp, MessageDirection.Inbound, new[] { "b@other.example" }, Virus(CheckStatus.Ok), SpamResult(1));
        var policy = new VerdictPolicy(new VerdictPolicyOptions { HostName = "h" }, shared);

        Assert.Contains(policy.Decide(local).Edits.OfType<HeaderEdit.Add>(), e => e.Name == "X-Spam-Flag");
        Assert.DoesNotContain(policy.Decide(foreign).Edits.OfType<HeaderEdit.Add>(), e => e.Name == "X-Spam-Flag");
    }
}
