namespace ContentFilter.Checks.Arc;

/// <summary>The chain validation status (RFC 8617 §4.4): <c>none</c>, <c>pass</c> or <c>fail</c>, with the reason.</summary>
/// <param name="Result">none, pass, fail.</param>
/// <param name="Reason">Why it failed, for logs and the A-R reason.</param>
/// <param name="Instances">Number of ARC sets.</param>
/// <param name="SealDomain">d= of the newest seal, for <c>header.d</c>-like reporting.</param>
public sealed record ArcValidation(string Result, string? Reason, int Instances, string? SealDomain)
{
    /// <summary>No ARC fields at all.</summary>
    public static ArcValidation None { get; } = new("none", null, 0, null);
}
