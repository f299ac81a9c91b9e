namespace ContentFilter.Checks.Spf;

/// <summary>Settings of <see cref="SpfCheck"/> (config section <c>Spf</c>).</summary>
public sealed class SpfOptions
{
    /// <summary>Check SPF on inbound mail. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Add a <c>Received-SPF:</c> header (RFC 7208 §9.1) besides the Authentication-Results entry. Default false.</summary>
    public bool AddReceivedSpfHeader { get; set; }

    /// <summary>Our host name for <c>%{r}</c> and <c>receiver=</c>; empty = the machine's name.</summary>
    public string ReceiverName { get; set; } = string.Empty;

    /// <summary>Upper bound for one whole evaluation in milliseconds; past it the result is temperror. Default 15000.</summary>
    /// <remarks>Kept below the pipeline's per-check timeout so a slow DNS gives a result, not a failed check.</remarks>
    public int TimeoutMs { get; set; } = 15_000;

    /// <summary>Processing limits (RFC 7208 §4.6.4).</summary>
    public SpfLimits Limits { get; set; } = new();

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (TimeoutMs is < 100 or > 300_000)
        {
            throw new ArgumentOutOfRangeException(nameof(TimeoutMs), TimeoutMs, "Spf:TimeoutMs must be 100..300000");
        }
        if (Limits.MaxDnsMechanisms is < 1 or > 100 || Limits.MaxVoidLookups is < 0 or > 100 || Limits.MaxMxNames is < 1 or > 100 || Limits.MaxPtrNames is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(Limits), "Spf:Limits values must be 1..100 (void lookups 0..100)");
        }
    }
}
