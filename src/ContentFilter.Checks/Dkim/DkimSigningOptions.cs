namespace ContentFilter.Checks.Dkim;

/// <summary>Signing settings (config section <c>Dkim:Sign</c>).</summary>
/// <remarks>
/// Keys come either from OpenDKIM's KeyTable and SigningTable files (so an OpenDKIM site's files work unchanged,
/// PROTOCOLS.md §9) or from the simple <see cref="Domains"/> list. When a KeyTable is set, <see cref="Domains"/> is
/// ignored, as OpenDKIM ignores KeyFile (OpenDKIM#240).
/// </remarks>
public sealed class DkimSigningOptions
{
    /// <summary>The default header list: every field whose change would alter what a reader sees or replies to.</summary>
    /// <remarks>
    /// RFC 6376 §5.4.1 recommends From, Reply-To, Subject, Date, To, Cc, Resent-*, In-Reply-To, References, List-*;
    /// MIME-Version, Content-Type and Content-Transfer-Encoding are added so a re-labelled body does not verify.
    /// Received, Return-Path and Authentication-Results are left out: relays add or rewrite them.
    /// </remarks>
    public static IReadOnlyList<string> DefaultHeaders { get; } =
    [
        "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To", "References",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Content-ID",
        "Resent-Date", "Resent-From", "Resent-To", "Resent-Cc", "Resent-Message-ID", "Sender",
        "List-Id", "List-Help", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Subscribe", "List-Post",
        "List-Owner", "List-Archive",
    ];

    /// <summary>The default over-signed list: one more instance than present is signed, so none can be added (RFC 6376 §8.15).</summary>
    public static IReadOnlyList<string> DefaultOversign { get; } = ["From", "Subject", "Date", "To", "Cc", "Reply-To", "Content-Type", "MIME-Version"];

    /// <summary>Sign originating mail.</summary>
    public bool Enabled { get; set; }

    /// <summary>OpenDKIM KeyTable file (<c>keyname domain:selector:keyfile</c>); null to use <see cref="Domains"/>.</summary>
    public string? KeyTable { get; set; }

    /// <summary>OpenDKIM SigningTable file (<c>pattern keyname</c>); prefix <c>refile:</c> for wildcard patterns.</summary>
    public string? SigningTable { get; set; }

    /// <summary>The simple form: one entry per key; several entries for one domain give dual signing when <see cref="MultipleSignatures"/>.</summary>
    public List<DkimDomainKey> Domains { get; set; } = new();

    /// <summary>Sign with every matching key (OpenDKIM's MultipleSignatures), e.g. RSA plus Ed25519. Off by default: some receivers (Amazon SES) refuse two signatures.</summary>
    public bool MultipleSignatures { get; set; }

    /// <summary>Canonicalisation <c>header/body</c> (<c>relaxed/relaxed</c> survives the usual re-folding by relays).</summary>
    public string Canonicalization { get; set; } = "relaxed/relaxed";

    /// <summary>Header fields to sign when present.</summary>
    public List<string> Headers { get; set; } = DefaultHeaders.ToList();

    /// <summary>Header fields signed once more than present (always including absent ones), so that adding one breaks the signature.</summary>
    public List<string> OversignHeaders { get; set; } = DefaultOversign.ToList();

    /// <summary>Signature lifetime for <c>x=</c>; null for none.</summary>
    public TimeSpan? SignatureLifetime { get; set; }

    /// <summary>Refuse key files readable or writable by group or others (OpenDKIM's RequireSafeKeys).</summary>
    public bool RequireSafeKeys { get; set; } = true;

    /// <summary>Checks the values; returns the problems found.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!DkimSignatureFields.TryParseCanonicalization(Canonicalization, out _, out _))
        {
            errors.Add("Dkim:Sign:Canonicalization must be simple or relaxed, as header/body");
        }
        if (Enabled && KeyTable is null && Domains.Count == 0)
        {
            errors.Add("Dkim:Sign is enabled but neither KeyTable nor Domains is set");
        }
        if ((KeyTable is null) != (SigningTable is null))
        {
            errors.Add("Dkim:Sign:KeyTable and Dkim:Sign:SigningTable go together");
        }
        if (!Headers.Any(h => h.Equals("From", StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add("Dkim:Sign:Headers must include From (RFC 6376 §5.4)");
        }
        foreach (DkimDomainKey d in Domains)
        {
            if (string.IsNullOrWhiteSpace(d.Domain) || string.IsNullOrWhiteSpace(d.Selector) || string.IsNullOrWhiteSpace(d.KeyFile))
            {
                errors.Add("Dkim:Sign:Domains entries need Domain, Selector and KeyFile");
            }
        }
        return errors;
    }
}
