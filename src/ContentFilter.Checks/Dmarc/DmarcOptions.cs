namespace ContentFilter.Checks.Dmarc;

/// <summary>Settings of <see cref="DmarcCheck"/> and <see cref="OrganizationalDomain"/> (config section <c>Dmarc</c>).</summary>
public sealed class DmarcOptions
{
    /// <summary>Evaluate DMARC on inbound mail (after SPF and DKIM). Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The Debian <c>publicsuffix</c> package's copy of the list.</summary>
    public const string DebianPublicSuffixListPath = "/usr/share/publicsuffix/public_suffix_list.dat";

    /// <summary>
    /// Path of the Public Suffix List. Default: Debian's package copy, refreshed with
    /// <c>apt-get install --only-upgrade publicsuffix</c> (or point this at a file the admin downloads from
    /// publicsuffix.org). When the file is missing, organisational domains fall back to the last two labels
    /// (wrong for <c>co.uk</c>-style suffixes) and a warning is logged at start-up.
    /// </summary>
    public string PublicSuffixListPath { get; set; } = DebianPublicSuffixListPath;

    /// <summary>Upper bound for the policy lookups in milliseconds; past it the result is temperror. Default 10000.</summary>
    public int TimeoutMs { get; set; } = 10_000;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (TimeoutMs is < 100 or > 300_000)
        {
            throw new ArgumentOutOfRangeException(nameof(TimeoutMs), TimeoutMs, "Dmarc:TimeoutMs must be 100..300000");
        }
    }
}
