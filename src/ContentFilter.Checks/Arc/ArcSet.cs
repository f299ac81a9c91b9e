using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Arc;

/// <summary>The three fields of one ARC instance (RFC 8617 §4.1).</summary>
/// <param name="Instance">i=, 1..50.</param>
/// <param name="Results">ARC-Authentication-Results.</param>
/// <param name="MessageSignature">ARC-Message-Signature.</param>
/// <param name="Seal">ARC-Seal.</param>
public sealed record ArcSet(int Instance, HeaderField Results, HeaderField MessageSignature, HeaderField Seal);
