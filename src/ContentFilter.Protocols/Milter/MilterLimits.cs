namespace ContentFilter.Protocols.Milter;

/// <summary>Caps the packet reader enforces before it allocates.</summary>
public sealed class MilterLimits
{
    /// <summary>The default cap: 1 MiB.</summary>
    /// <remarks>
    /// Postfix negotiates no <c>SMFIP_MDS_*</c>: body chunks are at most 65535 bytes, but a folded header may pass
    /// 64 KiB (<c>header_size_limit</c> is 102400), so 1 MiB leaves room while four bytes can never cost gigabytes.
    /// </remarks>
    public const int DefaultMaxPacketSize = 1024 * 1024;

    /// <summary>Shared default limits.</summary>
    public static MilterLimits Default { get; } = new();

    /// <summary>Largest packet accepted (the length prefix, which counts the command byte). Default 1 MiB.</summary>
    public int MaxPacketSize { get; init; } = DefaultMaxPacketSize;
}
