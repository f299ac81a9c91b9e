namespace ContentFilter.Checks.Dkim;

/// <summary>A DKIM signing algorithm (the <c>a=</c> tag).</summary>
public enum DkimAlgorithm
{
    /// <summary><c>rsa-sha256</c> (RFC 6376 §3.3.1).</summary>
    RsaSha256,

    /// <summary><c>ed25519-sha256</c> (RFC 8463 §3).</summary>
    Ed25519Sha256,

    /// <summary><c>rsa-sha1</c>: parsed so it can be reported, never valid (RFC 8301 §3.1).</summary>
    RsaSha1,
}
