namespace ContentFilter.Pipeline.Verdicts;

/// <summary>An SMTP reply to give upstream: basic code, RFC 3463 enhanced code, text.</summary>
public sealed record Reply(int Code, string EnhancedCode, string Text)
{
    /// <summary>The reply as one line without CRLF: <c>451 4.3.0 text</c>.</summary>
    public override string ToString() => $"{Code} {EnhancedCode} {Text}";

    /// <summary>True for 4xx.</summary>
    public bool IsTransient => Code is >= 400 and < 500;

    /// <summary>True for 5xx.</summary>
    public bool IsPermanent => Code >= 500;
}
