namespace ContentFilter.Checks.Antivirus;

/// <summary>How a clamd scan ended.</summary>
public enum ClamdScanStatus
{
    /// <summary><c>stream: OK</c>.</summary>
    Clean,

    /// <summary>One or more <c>stream: NAME FOUND</c>.</summary>
    Infected,

    /// <summary><c>INSTREAM size limit exceeded. ERROR</c> (clamd's StreamMaxLength): not scanned.</summary>
    SizeLimitExceeded,

    /// <summary>No usable answer from any server: refused, timeout, <c>ERROR</c>, garbage. Never clean.</summary>
    Failed,
}
