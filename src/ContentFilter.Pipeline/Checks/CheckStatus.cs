namespace ContentFilter.Pipeline.Checks;

/// <summary>How a check ended, independent of what it checks.</summary>
public enum CheckStatus
{
    /// <summary>The check ran and found nothing to object to (clean, pass, scored below levels).</summary>
    Ok,

    /// <summary>The check ran and found something (virus, banned name, spam score, authentication result).</summary>
    Hit,

    /// <summary>The check did not apply (listener or size policy, no data to check).</summary>
    Skipped,

    /// <summary>The check could not run (peer down, timeout, garbage reply, exception). Temporary by nature.</summary>
    Failed,
}
