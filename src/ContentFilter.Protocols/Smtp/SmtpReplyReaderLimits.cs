namespace ContentFilter.Protocols.Smtp;

/// <summary>Caps applied while reading a server reply, checked before any line is decoded.</summary>
/// <remarks>
/// A broken or hostile next hop must not make us buffer without bound: RFC 5321 §4.5.3.1.5 caps a reply line at
/// 512 octets including CRLF; we allow more because real servers exceed it, but stay bounded.
/// </remarks>
public sealed record SmtpReplyReaderLimits
{
    /// <summary>The defaults: 2048 bytes per line including CRLF, 100 lines per reply.</summary>
    public static SmtpReplyReaderLimits Default { get; } = new();

    /// <summary>Longest accepted line including the line end. Default 2048.</summary>
    public int MaxLineLength { get; init; } = 2048;

    /// <summary>Most lines in one reply (an EHLO reply has one per extension). Default 100.</summary>
    public int MaxLines { get; init; } = 100;
}
