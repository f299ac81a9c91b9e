namespace ContentFilter.Pipeline.Checks;

/// <summary>What one check reports. Checks report; <see cref="Verdicts.VerdictPolicy"/> decides.</summary>
/// <remarks>
/// Derived records carry the typed findings (virus names, score, authentication results). A check never throws
/// past the pipeline: an exception becomes <see cref="CheckStatus.Failed"/> with the reason in <see cref="Detail"/>.
/// </remarks>
public record CheckResult
{
    /// <summary>The check's stable lowercase name (<c>clamav</c>, <c>spamassassin</c>, <c>dkim</c> ...).</summary>
    public required string Check { get; init; }

    /// <summary>How the check ended.</summary>
    public required CheckStatus Status { get; init; }

    /// <summary>Human-readable detail for logs: the reason for a failure or a summary of the hit.</summary>
    public string? Detail { get; init; }

    /// <summary>Wall time the check took (set by the pipeline).</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>A failure result for <paramref name="check"/>.</summary>
    public static CheckResult Failure(string check, string detail) => new() { Check = check, Status = CheckStatus.Failed, Detail = detail };

    /// <summary>A skipped result for <paramref name="check"/>.</summary>
    public static CheckResult Skip(string check, string detail) => new() { Check = check, Status = CheckStatus.Skipped, Detail = detail };
}
