namespace ContentFilter.Pipeline.Checks;

/// <summary>A spam scan: the score, the scanner's own threshold and the rules that fired.</summary>
public sealed record SpamScanResult : CheckResult
{
    /// <summary>The score (may be negative).</summary>
    public double Score { get; init; }

    /// <summary>spamd's <c>required_score</c>; informational, our levels decide.</summary>
    public double Threshold { get; init; }

    /// <summary>Rule names that fired.</summary>
    public IReadOnlyList<string> Rules { get; init; } = Array.Empty<string>();

    /// <summary>True when only the head of a large message was scanned.</summary>
    public bool Truncated { get; init; }
}
