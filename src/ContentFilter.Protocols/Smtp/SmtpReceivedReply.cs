namespace ContentFilter.Protocols.Smtp;

/// <summary>One complete reply a client read from an SMTP server (RFC 5321 §4.2): one code, one or more text lines.</summary>
/// <remarks>
/// Named apart from the server side's reply type on purpose: this is what the <em>next hop</em> said, parsed by
/// <see cref="SmtpReplyReader"/>, with the RFC 3463 enhanced status code split off when the server sent one
/// (RFC 2034 §3: every line of a reply then starts with it).
/// </remarks>
/// <param name="Code">The three-digit reply code (200-599 after validation).</param>
/// <param name="EnhancedCode">The enhanced status code of the first line (<c>2.0.0</c>), or <c>null</c> when absent.</param>
/// <param name="Lines">The text of each line after the code, separator and enhanced code (may be empty strings).</param>
public sealed record SmtpReceivedReply(int Code, string? EnhancedCode, IReadOnlyList<string> Lines)
{
    /// <summary>True for 2xx.</summary>
    public bool IsPositive => Code is >= 200 and < 300;

    /// <summary>True for 3xx (354 after DATA).</summary>
    public bool IsIntermediate => Code is >= 300 and < 400;

    /// <summary>True for 4xx: try again later.</summary>
    public bool IsTransient => Code is >= 400 and < 500;

    /// <summary>True for 5xx: do not retry.</summary>
    public bool IsPermanent => Code is >= 500 and < 600;

    /// <summary>All text lines joined by a single space (for one-line logs and relayed replies).</summary>
    public string Text => Lines.Count == 1 ? Lines[0] : string.Join(' ', Lines.Where(l => l.Length > 0));

    /// <summary>The reply as one line: <c>250 2.0.0 Ok: queued as X</c>.</summary>
    public override string ToString() => EnhancedCode is null ? $"{Code} {Text}" : $"{Code} {EnhancedCode} {Text}";
}
