namespace ContentFilter.Checks.Spf;

/// <summary>The outcome of one check_host() run.</summary>
/// <param name="Result">The result.</param>
/// <param name="Explanation">For <see cref="SpfResult.Fail"/>: the domain's <c>exp=</c> text (RFC 7208 §6.2), or null for the default.</param>
/// <param name="Mechanism">The directive that matched (<c>-all</c>, <c>ip4:192.0.2.0/24</c>), or null.</param>
/// <param name="Problem">For errors: what went wrong, in a few words (for the log and the A-R reason).</param>
public sealed record SpfEvaluation(SpfResult Result, string? Explanation = null, string? Mechanism = null, string? Problem = null);
