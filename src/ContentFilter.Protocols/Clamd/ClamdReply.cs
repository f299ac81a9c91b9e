namespace ContentFilter.Protocols.Clamd;

/// <summary>One parsed clamd reply line (without its NUL terminator).</summary>
/// <param name="Kind">What the line says.</param>
/// <param name="Text">For <see cref="ClamdReplyKind.Found"/> the virus name (e.g. <c>Eicar-Test-Signature</c> or
/// <c>X.UNOFFICIAL</c>); for <see cref="ClamdReplyKind.Error"/> the error text without <c> ERROR</c>; for
/// <see cref="ClamdReplyKind.Version"/> the whole version string; else empty.</param>
public sealed record ClamdReply(ClamdReplyKind Kind, string Text);
