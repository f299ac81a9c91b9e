namespace ContentFilter.Pipeline.Checks;

/// <summary>Banned attachment names or types found (amavis's BANNED): each offending name with the rule it broke.</summary>
public sealed record BannedContentResult : CheckResult
{
    /// <summary>Offending parts as amavis lists them, e.g. <c>invoice.pdf.exe</c> or <c>x.zip/run.exe</c>.</summary>
    public IReadOnlyList<string> Offending { get; init; } = Array.Empty<string>();
}
