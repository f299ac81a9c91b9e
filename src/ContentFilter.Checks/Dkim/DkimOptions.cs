namespace ContentFilter.Checks.Dkim;

/// <summary>DKIM verification and signing settings (config section <c>Dkim</c>).</summary>
public sealed class DkimOptions
{
    /// <summary>Verify DKIM signatures of inbound mail.</summary>
    public bool Verify { get; set; } = true;

    /// <summary>At most this many signatures are verified per message; the rest are ignored.</summary>
    /// <remarks>Each signature costs a DNS query and a hash pass: a message with 1,000 signatures must not cost 1,000 of each.</remarks>
    public int MaxSignatures { get; set; } = 5;

    /// <summary>RSA keys shorter than this are a permerror (RFC 8301 §3.2: at least 1024).</summary>
    public int MinimumKeyBits { get; set; } = 1024;

    /// <summary>How far in the future a signature's <c>t=</c> may be before it is refused (clock drift between hosts).</summary>
    public TimeSpan AllowedClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Signing of originating mail.</summary>
    public DkimSigningOptions Sign { get; set; } = new();

    /// <summary>Checks the values; returns the problems found (empty when valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxSignatures is < 1 or > 50)
        {
            errors.Add("Dkim:MaxSignatures must be between 1 and 50");
        }
        if (MinimumKeyBits < 1024)
        {
            errors.Add("Dkim:MinimumKeyBits must be at least 1024 (RFC 8301)");
        }
        if (AllowedClockSkew < TimeSpan.Zero)
        {
            errors.Add("Dkim:AllowedClockSkew must not be negative");
        }
        errors.AddRange(Sign.Validate());
        return errors;
    }
}
