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

    /// <summary>Checks whose failure never holds mail (they add results to Authentication-Results, nothing more).</summary>
    private static readonly HashSet<string> AuthenticationChecks = new(StringComparer.Ordinal) { "spf", "dkim", "dmarc", "arc" };

    private readonly VerdictPolicyOptions _options;
    private readonly string _hostName;
    private readonly string _authServId;

    private readonly Policy.LocalDomains? _localDomains;

    /// <summary>Creates the policy.</summary>
    public VerdictPolicy(VerdictPolicyOptions options)
        : this(options, null)
    {
    }

    /// <summary>Creates the policy with the site's shared, refreshable set of local domains.</summary>
    /// <remarks>When <paramref name="localDomains"/> holds entries it decides which recipients are local; otherwise
    /// <see cref="VerdictPolicyOptions.LocalDomains"/> does, and when both are empty every recipient is local.</remarks>
    public VerdictPolicy(VerdictPolicyOptions options, Policy.LocalDomains? localDomains)
    {
        _options = options;
        _localDomains = localDomains;
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
        // A check that threw is recorded by the pipeline as a plain CheckResult under its name: match both.
        CheckResult? virus = context.Results.FirstOrDefault(r => r is VirusScanResult || r.Check == Antivirus);
        CheckResult? spam = context.Results.FirstOrDefault(r => r is SpamScanResult || r.Check == Spam);
        BannedContentResult? banned = context.Results.OfType<BannedContentResult>().FirstOrDefault();
        bool originating = context.Direction == MessageDirection.Originating;
        SpamLevels levels = ResolveLevels(context);

        // 1. Checks that fail closed.
        foreach (CheckResult r in context.Results)
        {
            if (r.Status != CheckStatus.Failed)
            {
                continue;
            }
            // Authentication checks (by type or, when they threw, by name) fail open: a DNS outage must not
            // hold mail; they simply contribute no result. Scanners follow their configured failure action.
            bool failOpen = r is SpamScanResult || r.Check == Spam
                ? _options.SpamScannerFailure == ScannerFailureAction.Accept
                : r is AuthResult || AuthenticationChecks.Contains(r.Check)
                    || (r is VirusScanResult || r.Check == Antivirus ? _options.VirusScannerFailure == ScannerFailureAction.Accept : false);
            if (!failOpen)
            {
                verdict.Action = VerdictAction.TempFail;
                verdict.Category = "UNCHECKED";
                verdict.Reason = $"{r.Check} failed: {r.Detail}";
                verdict.Reply = new Reply(451, "4.3.0", $"Temporary failure in {r.Check} check, try again later");
                return verdict;
            }
        }

        // 1b. Not virus-scanned because too large: its own outcome.
        if (virus is VirusScanResult { Oversized: true } && _options.VirusOversized == ScannerFailureAction.TempFail)
        {
            verdict.Action = VerdictAction.TempFail;
            verdict.Category = "OVERSIZED";
            verdict.Reason = $"{virus.Check}: {virus.Detail}";
            verdict.Reply = new Reply(452, "4.3.1", "Message too large to be scanned for viruses, try again later");
            return verdict;
        }

        // 2. Virus.
        if (virus is VirusScanResult { Status: CheckStatus.Hit } infected)
        {
            Block(verdict, context, "INFECTED", infected.Viruses, _options.VirusAction, "5.7.1", "Message content rejected, virus found: " + string.Join(", ", infected.Viruses));
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

        // 4. Spam (levels of the recipients' domains; originating mail only when asked to).
        if (spam is SpamScanResult { Status: CheckStatus.Ok or CheckStatus.Hit } scored)
        {
            verdict.Score = scored.Score;
            if (originating && !_options.BlockOriginatingSpam)
            {
                // Originating: recorded, not judged.
            }
            else if (scored.Score >= levels.Kill && verdict.Category == "CLEAN")
            {
                Block(verdict, context, "SPAM", Array.Empty<string>(), _options.SpamAction, "5.7.1", "Message content rejected as spam");
                if (verdict.Action != VerdictAction.Deliver)
                {
                    return verdict;
                }
            }
            else if (scored.Score >= levels.Tag2 && verdict.Category == "CLEAN")
            {
                verdict.Category = "SPAMMY";
            }
        }

        // 4b. DMARC enforcement (off by default: record and tag only). Only a real "fail" on inbound mail, never
        // temperror/permerror/none; p=reject -> 550 5.7.1, p=quarantine -> quarantined, not delivered.
        if (_options.EnforceDmarc && !originating
            && context.Results.OfType<AuthResult>().FirstOrDefault(a => a.Check == "dmarc") is { } dmarc
            && dmarc.Results.Any(m => m.Method == "dmarc" && m.Result == "fail"))
        {
            string from = dmarc.Results.SelectMany(m => m.Properties).FirstOrDefault(p => p.Key == "header.from").Value ?? "the From domain";
            if (dmarc.RequestedPolicy == "reject")
            {
                verdict.Action = VerdictAction.Reject;
                verdict.Category = "OTHER";
                verdict.Reason = "DMARC policy reject";
                verdict.Reply = new Reply(550, "5.7.1", $"Message rejected by DMARC policy of {from}");
                return verdict;
            }
            if (dmarc.RequestedPolicy == "quarantine")
            {
                verdict.Action = VerdictAction.Discard;
                verdict.Category = "OTHER";
                verdict.Quarantine = true;
                verdict.Reason = "DMARC policy quarantine";
                verdict.Reply = new Reply(250, "2.7.0", $"Ok, quarantined, id={context.MailId} - DMARC policy of {from}");
                return verdict;
            }
        }

        // 5. Deliver with tags.
        verdict.Action = VerdictAction.Deliver;
        AddDeliveryHeaders(verdict, context, virus, spam, levels);
        return verdict;
    }

    /// <summary>True when <paramref name="domain"/> is one of ours (always, when no local domains are configured).</summary>
    public bool IsLocalDomain(string domain) => _localDomains is { Count: > 0 }
        ? _localDomains.IsLocal(domain)
        : _options.LocalDomains.Count == 0 || _options.LocalDomains.Any(d => DomainMatches(d, domain));

    /// <summary>The spam levels for this message from its local recipients' domains.</summary>
    /// <remarks>Kill = the highest kill level among local recipients (blocked only if blocked for all); tag and
    /// tag2 = the lowest (tagged if tagged for anyone). No local recipient: the global levels, and
    /// <see cref="SpamLevels.AnyLocal"/> false so no spam headers are added.</remarks>
    public SpamLevels ResolveLevels(MessageContext context)
    {
        var perRecipient = new List<(double? Tag, double Tag2, double Kill, string SubjectTag)>();
        foreach (string domain in context.Envelope.Recipients.Select(r => r.Domain).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (!IsLocalDomain(domain))
            {
                continue;
            }
            SpamLevelOverride? o = _options.DomainOverrides
                .Where(kv => DomainMatches(kv.Key, domain))
                .OrderByDescending(kv => kv.Key.TrimStart('.').Length)
                .Select(kv => kv.Value)
                .FirstOrDefault();
            perRecipient.Add((o?.TagLevel ?? _options.SpamTagLevel, o?.Tag2Level ?? _options.SpamTag2Level, o?.KillLevel ?? _options.SpamKillLevel, o?.SubjectTag ?? _options.SpamSubjectTag));
        }
        if (perRecipient.Count == 0)
        {
            return new SpamLevels(_options.SpamTagLevel, _options.SpamTag2Level, _options.SpamKillLevel, _options.SpamSubjectTag, AnyLocal: context.Envelope.Recipients.Count == 0);
        }
        double? tag = perRecipient.Any(p => p.Tag is null) ? null : perRecipient.Min(p => p.Tag);
        return new SpamLevels(tag, perRecipient.Min(p => p.Tag2), perRecipient.Max(p => p.Kill), perRecipient[0].SubjectTag, AnyLocal: true);
    }

    private static bool DomainMatches(string pattern, string domain)
    {
        string p = pattern.Trim().ToLowerInvariant();
        string d = domain.ToLowerInvariant();
        return p.StartsWith('.')
            ? d == p[1..] || d.EndsWith(p, StringComparison.Ordinal)
            : d == p;
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

    private void AddDeliveryHeaders(Verdict verdict, MessageContext context, CheckResult? virus, CheckResult? spam, SpamLevels levels)
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

        if (virus is not null && _options.AddVirusScannedHeader)
        {
            if (virus.Status == CheckStatus.Failed)
            {
                edits.Add("X-Virus-Scanned", $"Unchecked by ContentFilter at {_hostName}");
            }
            else if (virus is VirusScanResult { Oversized: true })
            {
                edits.Add("X-Virus-Scanned", $"Unchecked (too large) by ContentFilter at {_hostName}");
            }
            else if (virus.Status != CheckStatus.Skipped)
            {
                edits.Add("X-Virus-Scanned", $"ContentFilter at {_hostName}");
            }
        }

        if (spam is not null && context.Direction == MessageDirection.Inbound && levels.AnyLocal)
        {
            if (spam.Status == CheckStatus.Failed)
            {
                edits.Add("X-Spam-Status", "Unchecked");
            }
            else if (spam is SpamScanResult { Status: not CheckStatus.Skipped } scored && (levels.Tag is null || scored.Score >= levels.Tag))
            {
                bool isSpam = scored.Score >= levels.Tag2;
                string score = scored.Score.ToString("0.###", CultureInfo.InvariantCulture);
                edits.Add("X-Spam-Flag", isSpam ? "YES" : "NO");
                edits.Add("X-Spam-Score", score);
                edits.Add("X-Spam-Level", new string('*', (int)Math.Clamp(Math.Floor(scored.Score), 0, 64)));
                string tests = scored.Rules.Count == 0 ? "none" : string.Join(",", scored.Rules);
                edits.Add("X-Spam-Status", $"{(isSpam ? "Yes" : "No")}, score={score} tag={Format(levels.Tag)} tag2={Format(levels.Tag2)} kill={Format(levels.Kill)}{(scored.Truncated ? " truncated" : string.Empty)}\r\n\ttests=[{tests}]");
                if (isSpam && levels.SubjectTag.Length > 0)
                {
                    string? subject = context.Headers.Get("Subject");
                    if (subject is null)
                    {
                        edits.Add("Subject", levels.SubjectTag.TrimEnd());
                    }
                    else if (!subject.StartsWith(levels.SubjectTag.TrimEnd(), StringComparison.Ordinal))
                    {
                        edits.Change("Subject", 1, levels.SubjectTag + context.Headers.GetAll("Subject").First().RawValue.TrimStart(' ', '\t'));
                    }
                }
            }
        }
    }

    private static string Format(double? level) => level?.ToString("0.###", CultureInfo.InvariantCulture) ?? "-";
}

/// <summary>The spam levels that apply to one message (see <see cref="VerdictPolicy.ResolveLevels"/>).</summary>
/// <param name="Tag">X-Spam-* headers from this score; null = always.</param>
/// <param name="Tag2">Marked as spam from this score.</param>
/// <param name="Kill">Blocked from this score.</param>
/// <param name="SubjectTag">Subject prefix for tag2 mail.</param>
/// <param name="AnyLocal">True when at least one recipient is in a local domain (headers are only added then).</param>
public sealed record SpamLevels(double? Tag, double Tag2, double Kill, string SubjectTag, bool AnyLocal);
