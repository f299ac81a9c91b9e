namespace ContentFilter.Pipeline.Verdicts;

/// <summary>What to do with a failed scanner: fail closed (tempfail) or open (deliver, marked unchecked).</summary>
public enum ScannerFailureAction
{
    /// <summary>4xx: Postfix keeps the message and retries later.</summary>
    TempFail,

    /// <summary>Deliver, marked as unchecked.</summary>
    Accept,
}

/// <summary>How found content is disposed of.</summary>
public enum BlockAction
{
    /// <summary>Proxy: accept and drop (quarantined); milter: reject. amavis's <c>D_DISCARD</c> with no backscatter.</summary>
    Default,

    /// <summary>Accept and drop (quarantined) at every door.</summary>
    Discard,

    /// <summary>5xx at every door (in proxy mode Postfix bounces to the sender: beware backscatter).</summary>
    Reject,

    /// <summary>Deliver anyway (tagged), e.g. for a postmaster mailbox.</summary>
    Pass,
}

/// <summary>Policy levels and actions, in one place (amavis's <c>$sa_tag_level_deflt</c> and friends).</summary>
/// <remarks>Defaults are Debian's amavisd-new: tag2 = kill = 6.31; tag level none (always add the status headers).</remarks>
public sealed class VerdictPolicyOptions
{
    /// <summary>Score at or above which <c>X-Spam-*</c> status headers are added; null = always (amavis <c>undef</c>).</summary>
    public double? SpamTagLevel { get; set; }

    /// <summary>Score at or above which mail is marked spam (<c>X-Spam-Flag: YES</c>, subject tag). Default 6.31.</summary>
    public double SpamTag2Level { get; set; } = 6.31;

    /// <summary>Score at or above which mail is blocked (quarantine + discard in proxy mode, reject in milter mode). Default 6.31.</summary>
    public double SpamKillLevel { get; set; } = 6.31;

    /// <summary>Prefix for the subject of tag2 mail; empty to leave the subject alone. Default <c>***SPAM*** </c>.</summary>
    public string SpamSubjectTag { get; set; } = "***SPAM*** ";

    /// <summary>What blocks spam at kill level. Default: discard in proxy mode, reject in milter mode.</summary>
    public BlockAction SpamAction { get; set; } = BlockAction.Default;

    /// <summary>What blocks a virus. Default: discard in proxy mode, reject in milter mode.</summary>
    public BlockAction VirusAction { get; set; } = BlockAction.Default;

    /// <summary>What blocks banned content. Default: discard in proxy mode, reject in milter mode.</summary>
    public BlockAction BannedAction { get; set; } = BlockAction.Default;

    /// <summary>Quarantine blocked mail. Default true.</summary>
    public bool QuarantineBlocked { get; set; } = true;

    /// <summary>Virus scanner failure. Default: fail closed.</summary>
    public ScannerFailureAction VirusScannerFailure { get; set; } = ScannerFailureAction.TempFail;

    /// <summary>Spam scanner failure. Default: fail open with <c>X-Spam-Status: Unchecked</c>.</summary>
    public ScannerFailureAction SpamScannerFailure { get; set; } = ScannerFailureAction.Accept;

    /// <summary>Remove <c>X-Spam-*</c> headers that came from outside on inbound mail. Default true.</summary>
    public bool RemoveForeignSpamHeaders { get; set; } = true;

    /// <summary>Add <c>X-Virus-Scanned:</c>. Default true.</summary>
    public bool AddVirusScannedHeader { get; set; } = true;

    /// <summary>Enforce DMARC p=reject / p=quarantine. Default false (record and tag only).</summary>
    public bool EnforceDmarc { get; set; }

    /// <summary>authserv-id of our Authentication-Results header; empty = the host name.</summary>
    public string AuthServId { get; set; } = string.Empty;

    /// <summary>Host name used in added headers; empty = the machine's name.</summary>
    public string HostName { get; set; } = string.Empty;

    /// <summary>A message the virus scanner did not scan because it is too large (clamd StreamMaxLength or our
    /// MaxScanSize). Default: deliver, marked in <c>X-Virus-Scanned</c> (as clamd itself passes content over
    /// MaxScanSize); TempFail would retry until Postfix bounces it.</summary>
    public ScannerFailureAction VirusOversized { get; set; } = ScannerFailureAction.Accept;

    /// <summary>Apply the spam kill level to originating mail too. Default false: originating mail is virus
    /// scanned but neither tagged nor blocked as spam (amavis's ORIGINATING bank).</summary>
    public bool BlockOriginatingSpam { get; set; }

    /// <summary>Our domains (amavis <c>@local_domains_maps</c>): spam headers and levels apply to mail for them.
    /// <c>example.com</c> matches that domain; <c>.example.com</c> also its subdomains. Empty = every recipient is local.</summary>
    public List<string> LocalDomains { get; set; } = new();

    /// <summary>Per recipient domain spam levels (same matching as <see cref="LocalDomains"/>), e.g. a stricter kill
    /// level for one customer. With several recipients the message is blocked only at a level where every local
    /// recipient's settings block it, and tagged as soon as one recipient's settings tag it: one verdict per message
    /// never loses wanted mail.</summary>
    public Dictionary<string, SpamLevelOverride> DomainOverrides { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Spam levels for one recipient domain; null members keep the global value.</summary>
public sealed class SpamLevelOverride
{
    /// <summary>Tag level (X-Spam-* headers from this score).</summary>
    public double? TagLevel { get; set; }

    /// <summary>Tag2 level (marked as spam).</summary>
    public double? Tag2Level { get; set; }

    /// <summary>Kill level (blocked).</summary>
    public double? KillLevel { get; set; }

    /// <summary>Subject tag.</summary>
    public string? SubjectTag { get; set; }
}
