namespace ContentFilter.Protocols.Clamd;

/// <summary>What one clamd reply line says (clamd(8); PROTOCOLS.md §4).</summary>
public enum ClamdReplyKind
{
    /// <summary><c>stream: OK</c>: scanned, nothing found.</summary>
    Clean,

    /// <summary><c>stream: &lt;name&gt; FOUND</c>; with AllMatchScan several such replies may follow each other.</summary>
    Found,

    /// <summary><c>INSTREAM size limit exceeded. ERROR</c>: clamd's StreamMaxLength quota is used up; nothing scanned.</summary>
    SizeLimitExceeded,

    /// <summary><c>&lt;text&gt; ERROR</c>: clamd could not scan (out of memory, database trouble, bad request).</summary>
    Error,

    /// <summary><c>PONG</c> (reply to zPING).</summary>
    Pong,

    /// <summary><c>ClamAV &lt;version&gt;[/&lt;db version&gt;/&lt;db date&gt;]</c> (reply to zVERSION).</summary>
    Version,
}
