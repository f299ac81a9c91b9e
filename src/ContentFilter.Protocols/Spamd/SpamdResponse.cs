namespace ContentFilter.Protocols.Spamd;

/// <summary>A parsed spamd response (spamd/PROTOCOL "Responses").</summary>
public sealed record SpamdResponse
{
    /// <summary>The protocol version spamd answered with (<c>1.1</c>, <c>1.5</c>).</summary>
    public required string ProtocolVersion { get; init; }

    /// <summary>The sysexits code: 0 is EX_OK; anything else is a scanner failure (76 EX_PROTOCOL, 69, 79 ...).</summary>
    public required int Code { get; init; }

    /// <summary>The text after the code (<c>EX_OK</c>, <c>PONG</c>, <c>Bad header line: ...</c>).</summary>
    public required string Message { get; init; }

    /// <summary>From <c>Spam: True ; 7.2 / 5.0</c>: the verdict word, or null when there was no Spam header.</summary>
    public bool? IsSpam { get; init; }

    /// <summary>The score (may be negative).</summary>
    public double? Score { get; init; }

    /// <summary>spamd's <c>required_score</c>.</summary>
    public double? Threshold { get; init; }

    /// <summary>The body: rule names for SYMBOLS, report text for REPORT; empty otherwise.</summary>
    public string Body { get; init; } = string.Empty;

    /// <summary>True when <see cref="Code"/> is 0 (EX_OK).</summary>
    public bool IsOk => Code == 0;

    /// <summary>The rule names of a SYMBOLS body, split at commas, empties dropped.</summary>
    public IReadOnlyList<string> Symbols =>
        Body.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
