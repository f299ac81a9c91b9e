namespace ContentFilter.Protocols.Clamd;

/// <summary>Caps applied to clamd replies before they are parsed.</summary>
public sealed class ClamdLimits
{
    /// <summary>The defaults.</summary>
    public static ClamdLimits Default { get; } = new();

    /// <summary>Longest reply line accepted, terminator excluded. Default 4096: virus names are short; anything
    /// longer is not clamd talking.</summary>
    public int MaxReplyLength { get; init; } = 4096;
}
