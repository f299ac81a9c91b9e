namespace ContentFilter.Checks.Dkim;

/// <summary>One signing key in the simple configuration form.</summary>
public sealed class DkimDomainKey
{
    /// <summary>The From domain this key signs for (<c>d=</c>); <c>*</c> signs any From domain with <see cref="SigningDomain"/>.</summary>
    public string Domain { get; set; } = string.Empty;

    /// <summary>The <c>d=</c> to use when it differs from <see cref="Domain"/> (a third-party or parent domain); null for the same.</summary>
    public string? SigningDomain { get; set; }

    /// <summary>Selector (<c>s=</c>).</summary>
    public string Selector { get; set; } = string.Empty;

    /// <summary>Private key file (PEM, RSA or Ed25519); the algorithm follows the key.</summary>
    public string KeyFile { get; set; } = string.Empty;
}
