namespace ContentFilter.Testing.Smtp;

/// <summary>One SMTP reply as received: the code and every line's text (without <c>ddd-</c> / <c>ddd </c>).</summary>
public sealed record SmtpReply(int Code, IReadOnlyList<string> Lines)
{
    /// <summary>2xx.</summary>
    public bool IsPositiveCompletion => Code is >= 200 and < 300;

    /// <summary>4xx: try again later (RFC 5321 §4.2.1).</summary>
    public bool IsTransientFailure => Code is >= 400 and < 500;

    /// <summary>5xx.</summary>
    public bool IsPermanentFailure => Code is >= 500 and < 600;

    /// <summary>The lines joined with a space.</summary>
    public string Text => string.Join(' ', Lines);

    /// <inheritdoc />
    public override string ToString() => $"{Code} {Text}";
}
