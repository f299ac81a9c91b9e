namespace ContentFilter.Protocols.Spamd;

/// <summary>Caps applied to spamd responses before parsing.</summary>
public sealed class SpamdLimits
{
    /// <summary>The defaults.</summary>
    public static SpamdLimits Default { get; } = new();

    /// <summary>Longest status or header line. Default 8192.</summary>
    public int MaxLineLength { get; init; } = 8192;

    /// <summary>Most header lines. Default 64 (spamd sends two or three).</summary>
    public int MaxHeaders { get; init; } = 64;

    /// <summary>Largest body (SYMBOLS list or REPORT text). Default 1 MiB.</summary>
    public int MaxBodyLength { get; init; } = 1024 * 1024;
}
