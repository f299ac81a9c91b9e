namespace ContentFilter.Checks.Dkim;

/// <summary>How a key lookup ended; maps one to one onto the RFC 8601 result.</summary>
public enum DkimKeyLookupStatus
{
    /// <summary>A usable key record was found.</summary>
    Found,

    /// <summary>NXDOMAIN or no TXT: permerror "no key" (RFC 6376 §6.1.2 step 3).</summary>
    NoKey,

    /// <summary>The record was found but is malformed: permerror (§6.1.2 step 4..6).</summary>
    Invalid,

    /// <summary>DNS timeout or SERVFAIL: temperror (§6.1.2 step 2).</summary>
    TempError,
}
