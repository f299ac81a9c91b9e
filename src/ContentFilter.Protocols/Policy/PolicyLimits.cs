namespace ContentFilter.Protocols.Policy;

/// <summary>Caps applied to a policy request before anything is buffered or decoded.</summary>
/// <remarks>
/// Postfix sends about 35 short attributes per request (SMTPD_POLICY_README); the longest in practice are
/// <c>ccert_subject</c> and SMTPUTF8 addresses. The caps stop a peer that never sends a line end or an empty line
/// from making us buffer without bound (STYLE.md example 2: cap before you parse).
/// </remarks>
public sealed class PolicyLimits
{
    /// <summary>Longest <c>name=value</c> line, line end included. Default 8192 bytes.</summary>
    public int MaxLineLength { get; set; } = 8192;

    /// <summary>Most attribute lines in one request (repeated names count each time). Default 256.</summary>
    public int MaxAttributes { get; set; } = 256;

    /// <summary>Most bytes in one request, the closing empty line included. Default 65536.</summary>
    public int MaxRequestBytes { get; set; } = 65536;
}
