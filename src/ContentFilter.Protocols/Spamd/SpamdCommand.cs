namespace ContentFilter.Protocols.Spamd;

/// <summary>The spamd commands we use (spamd/PROTOCOL, SPAMC/1.5).</summary>
public enum SpamdCommand
{
    /// <summary><c>SYMBOLS</c>: score, threshold and the comma-separated rule names as the body.</summary>
    Symbols,

    /// <summary><c>REPORT</c>: score, threshold and the human-readable report as the body.</summary>
    Report,

    /// <summary><c>CHECK</c>: score and threshold only.</summary>
    Check,

    /// <summary><c>PING</c>: liveness; spamd answers <c>SPAMD/1.5 0 PONG</c>.</summary>
    Ping,
}
