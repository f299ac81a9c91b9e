namespace ContentFilter.Checks.Dkim;

/// <summary>One key chosen to sign a message.</summary>
/// <param name="Domain">d=.</param>
/// <param name="Selector">s=.</param>
/// <param name="KeyFile">Key path, or null for an inline key.</param>
/// <param name="InlineKey">Inline key text (KeyTable), or null.</param>
/// <param name="Identity">i= from the SigningTable's signer column, or null.</param>
public sealed record DkimKeyChoice(string Domain, string Selector, string? KeyFile, string? InlineKey, string? Identity);
