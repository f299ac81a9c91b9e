namespace ContentFilter.Checks.Arc;

/// <summary>One sealing identity: which forwarded mail is sealed, and with which key.</summary>
public sealed class ArcSealDomain
{
    /// <summary>The sealing domain (<c>d=</c> of ARC-Seal and ARC-Message-Signature).</summary>
    public string Domain { get; set; } = string.Empty;

    /// <summary>Selector (<c>s=</c>).</summary>
    public string Selector { get; set; } = string.Empty;

    /// <summary>Private key file (RSA; ARC allows only rsa-sha256 today, RFC 8617 §4.1.3).</summary>
    public string KeyFile { get; set; } = string.Empty;

    /// <summary>Recipient domains (or full addresses) whose mail this host forwards: mailing lists, aliases to elsewhere. Mail to any of them is sealed.</summary>
    public List<string> ForwardingDomains { get; set; } = new();
}
