using System.Globalization;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Pipeline.Verdicts;

/// <summary>The one place that turns check results into an action, a reply and header edits.</summary>
/// <remarks>
/// Read this file when someone asks why mail was refused. Order of precedence: a failed check that must fail
/// closed (4xx) beats everything, because we cannot know what we did not see; then virus, banned content, spam at
/// kill level, DMARC enforcement; else deliver with tags. Anything unmapped is a temporary failure, never a pass.
/// </remarks>
public sealed class VerdictPolicy
{
    /// <summary>Check names the policy knows; others are recorded but only their failures matter.</summary>
    public const string Antivirus = "clamav";

    /// <summary>Spam check name.</summary>
    public const string Spam = "spamassassin";

    /// <summary>Banned content check name.</summary>
    public const string Banned = "banned";

    private readonly VerdictPolicyOptions _options;
    private readonly string _hostName;
    private readonly string _authServId;

    /// <summary>Creates the policy.</summary>
    public VerdictPolicy(VerdictPolicyOptions options)
    {
        _options = options;
        _hostName = string.IsNullOrEmpty(options.HostName) ? Environment.MachineName : options.HostName;
        _authServId = string.IsNullOrEmpty(options.AuthServId) ? _hostName : options.AuthServId;
    }

    /// <summary>The host name used in added headers.</summary>
    public string HostName => _hostName;

    /// <summary>The options in force (read-only use).</summary>
    public VerdictPolicyOptions Options => _options;

    /// <summary>The authserv-id in use.</summary>
    public string AuthServId => _authServId;

    /// <summary>Decides the verdict for a message whose checks have run.</summary>
    public Verdict Decide(MessageContext context)
    {
        var verdict = new Verdict();
        VirusScanResult? virus = context.Results.OfType<VirusScanResult>().FirstOrDefault();
        SpamScanResult? spam = context.Results.OfType<SpamScanResult>().FirstOrDefault();
        BannedContentResult? banned = context.Results.OfType<BannedContentResult>().FirstOrDefault();

        // 1. Checks that fail closed.
        foreach (CheckResult r in context.Results)
        {
            if (r.Status != CheckStatus.Failed)
            {
                continue;
            }
            bool failOpen = r is SpamScanResult || r.Check == Spam
                ? _options.SpamScannerFailure == ScannerFailureAction.Accept
                : r is AuthResult || (r is VirusScanResult || r.Check == Antivirus ? _options.VirusScannerFailure == ScannerFailureAction.Accept : false);
            if (!failOpen)
            {
                verdict.Action = VerdictAction.TempFail;
                verdict.Category = "UNCHECKED";
                verdict.Reason = $"{r.Check} failed: {r.Detail}";
                verdict.Reply = new Reply(451, "4.3.0", $"Temporary failure in {r.Check} check, try again later");
                return verdict;
            }
        }

        // 2. Virus.
        if (virus is { Status: CheckStatus.Hit })
        {
            Block(verdict, context, "INFECTED", virus.Viruses, _options.VirusAction, "5.7.1", "Message content rejected, virus found: " + string.Join(", ", virus.Viruses));
            if (verdict.Action != VerdictAction.Deliver)
            {
                return verdict;
            }
        }

        // 3. Banned content.
        if (banned is { Status: CheckStatus.Hit })
        {
            Block(verdict, context, "BANNED", banned.Offending, _options.BannedAction, "5.7.1", "Message content rejected, banned attachment: " + string.Join(", ", banned.Offending));
            if (verdict.Action != VerdictAction.Deliver)
            {
                return verdict;
            }
        }

        // 4. Spam.
        if (spam is { Status: CheckStatus.Ok or CheckStatus.Hit })
        {
            verdict.Score = spam.Score;
            if (spam.Score >= _options.SpamKillLevel && verdict.Category == "CLEAN")
            {
                Block(verdict, context, "SPAM", Array.Empty<string>(), _options.SpamAction, "5.7.1", "Message content rejected as spam");
                if (verdict.Action != VerdictAction.Deliver)
                {
                    return verdict;
                }
            }
            else if (spam.Score >= _options.SpamTag2Level && verdict.Category == "CLEAN")
            {
                verdict.Category = "SPAMMY";
            }
        }

        // 5. Deliver with tags.
        verdict.Action = VerdictAction.Deliver;
        AddDeliveryHeaders(verdict, context, virus, spam);
        return verdict;
    }

    private void Block(Verdict verdict, MessageContext context, string category, IReadOnlyList<string> names, BlockAction action, string enhanced, string text)
    {
        verdict.Category = category;
        verdict.CategoryNames = names;
        BlockAction effective = action == BlockAction.Default
            ? (context.Door == FrontDoor.Milter ? BlockAction.Reject : BlockAction.Discard)
            : action;
        switch (effective)
        {
            case BlockAction.Reject:
                verdict.Action = VerdictAction.Reject;
                verdict.Quarantine = _options.QuarantineBlocked;
                verdict.Reply = new Reply(554, enhanced, text);
                break;
            case BlockAction.Discard:
                verdict.Action = VerdictAction.Discard;
                verdict.Quarantine = _options.QuarantineBlocked;
                verdict.Reply = new Reply(250, "2.7.0", $"Ok, discarded, id={context.MailId} - {verdict.CategoryText}");
                break;
            default:
                verdict.Action = VerdictAction.Deliver;
                break;
        }
    }

    private void AddDeliveryHeaders(Verdict verdict, MessageContext context, VirusScanResult? virus, SpamScanResult? spam)
    {
        HeaderEdits edits = verdict.Edits;
        if (context.Direction == MessageDirection.Inbound && _options.RemoveForeignSpamHeaders)
        {
            foreach (string name in context.Headers.Fields.Where(f => f.Name.StartsWith("X-Spam-", StringComparison.OrdinalIgnoreCase)).Select(f => f.Name).Distinct(StringComparer.OrdinalIgnoreCase).ToList())
            {
                edits.RemoveWhere(context.Headers, name);
            }
        }

        // One Authentication-Results header at the top, ours; forged ones claiming our authserv-id removed.
        List<AuthMethodResult> auth = context.Results.OfType<AuthResult>().SelectMany(a => a.Results).ToList();
        if (context.Direction == MessageDirection.Inbound)
        {
            edits.RemoveWhere(context.Headers, "Authentication-Results", f => AuthenticationResultsHeader.ClaimsAuthServId(f.Value, _authServId));
            if (auth.Count > 0)
            {
                edits.Add("Authentication-Results", AuthenticationResultsHeader.Format(_authServId, auth));
            }
        }
        foreach (AuthResult a in context.Results.OfType<AuthResult>())
        {
            foreach (KeyValuePair<string, string> h in a.AddHeaders)
            {
                edits.Add(h.Key, h.Value);
            }
        }

        if (virus is not null && virus.Status != CheckStatus.Skipped && _options.AddVirusScannedHeader)
        {
            edits.Add("X-Virus-Scanned", virus.Status == CheckStatus.Failed
                ? $"Unchecked by ContentFilter at {_hostName}"
                : $"ContentFilter at {_hostName}");
        }

        if (spam is not null && context.Direction == MessageDirection.Inbound)
        {
            if (spam.Status == CheckStatus.Failed)
            {
                edits.Add("X-Spam-Status", "Unchecked");
            }
            else if (spam.Status != CheckStatus.Skipped && (_options.SpamTagLevel is null || spam.Score >= _options.SpamTagLevel))
            {
                bool isSpam = spam.Score >= _options.SpamTag2Level;
                string score = spam.Score.ToString("0.###", CultureInfo.InvariantCulture);
                edits.Add("X-Spam-Flag", isSpam ? "YES" : "NO");
                edits.Add("X-Spam-Score", score);
                edits.Add("X-Spam-Level", new string('*', (int)Math.Clamp(Math.Floor(spam.Score), 0, 64)));
                string tests = spam.Rules.Count == 0 ? "none" : string.Join(",", spam.Rules);
                edits.Add("X-Spam-Status", $"{(isSpam ? "Yes" : "No")}, score={score} tag={Format(_options.SpamTagLevel)} tag2={Format(_options.SpamTag2Level)} kill={Format(_options.SpamKillLevel)}{(spam.Truncated ? " truncated" : string.Empty)}\r\n\ttests=[{tests}]");
                if (isSpam && _options.SpamSubjectTag.Length > 0)
                {
                    string? subject = context.Headers.Get("Subject");
                    if (subject is null)
                    {
                        edits.Add("Subject", _options.SpamSubjectTag.TrimEnd());
                    }
                    else if (!subject.StartsWith(_options.SpamSubjectTag, StringComparison.Ordinal))
                    {
                        edits.Change("Subject", 1, _options.SpamSubjectTag + context.Headers.GetAll("Subject").First().RawValue.TrimStart(' ', '\t'));
                    }
                }
            }
        }
    }

    private static string Format(double? level) => level?.ToString("0.###", CultureInfo.InvariantCulture) ?? "-";
}
