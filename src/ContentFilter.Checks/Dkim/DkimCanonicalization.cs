namespace ContentFilter.Checks.Dkim;

/// <summary>A canonicalisation algorithm (RFC 6376 §3.4), for header or body.</summary>
public enum DkimCanonicalization
{
    /// <summary><c>simple</c>: tolerates almost no modification (§3.4.1, §3.4.3).</summary>
    Simple,

    /// <summary><c>relaxed</c>: tolerates white space and header case changes (§3.4.2, §3.4.4).</summary>
    Relaxed,
}
