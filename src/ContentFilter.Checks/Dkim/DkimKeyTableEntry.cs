namespace ContentFilter.Checks.Dkim;

/// <summary>One KeyTable line.</summary>
/// <param name="Name">The key name the SigningTable refers to.</param>
/// <param name="Domain">The <c>d=</c> domain, or <c>%</c> for the From domain.</param>
/// <param name="Selector">The selector.</param>
/// <param name="KeyFile">Absolute key path, or null for an inline key.</param>
/// <param name="InlineKey">The inline key text, or null.</param>
public sealed record DkimKeyTableEntry(string Name, string Domain, string Selector, string? KeyFile, string? InlineKey);
