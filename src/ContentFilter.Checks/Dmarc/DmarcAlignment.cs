namespace ContentFilter.Checks.Dmarc;

/// <summary>Identifier alignment (RFC 7489 §3.1): strict = same name, relaxed = same organisational domain.</summary>
public static class DmarcAlignment
{
    /// <summary>True when <paramref name="authenticated"/> (DKIM d= or SPF domain) aligns with the From domain.</summary>
    /// <remarks>Names compare case-insensitively, with any leading and trailing dots removed (as OpenDMARC does).</remarks>
    public static bool IsAligned(string fromDomain, string authenticated, bool strict, OrganizationalDomain org)
    {
        string a = Clean(fromDomain);
        string b = Clean(authenticated);
        if (a.Length == 0 || b.Length == 0)
        {
            return false;
        }
        if (a.Equals(b, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        return !strict && org.Get(a).Equals(org.Get(b), StringComparison.OrdinalIgnoreCase);
    }

    private static string Clean(string d) => d.Trim().Trim('.').ToLowerInvariant();
}
