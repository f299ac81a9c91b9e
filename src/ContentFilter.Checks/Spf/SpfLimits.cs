namespace ContentFilter.Checks.Spf;

/// <summary>Processing limits of check_host() (RFC 7208 §4.6.4), each with the RFC's default.</summary>
/// <remarks>They stop a published record from turning one message into a DNS amplification attack.</remarks>
public sealed class SpfLimits
{
    /// <summary>Terms that cause DNS queries (include, a, mx, ptr, exists, redirect) per evaluation. Default 10 (§4.6.4).</summary>
    public int MaxDnsMechanisms { get; set; } = 10;

    /// <summary>Lookups that returned NXDOMAIN or no answers, per evaluation. Default 2 (§4.6.4).</summary>
    public int MaxVoidLookups { get; set; } = 2;

    /// <summary>MX names resolved by one <c>mx</c> mechanism; more is a permerror. Default 10 (§4.6.4).</summary>
    public int MaxMxNames { get; set; } = 10;

    /// <summary>PTR names examined by <c>ptr</c> or <c>%{p}</c>; the rest are ignored. Default 10 (§4.6.4).</summary>
    public int MaxPtrNames { get; set; } = 10;
}
