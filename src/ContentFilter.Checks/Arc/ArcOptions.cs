namespace ContentFilter.Checks.Arc;

/// <summary>ARC settings (config section <c>Arc</c>), RFC 8617.</summary>
public sealed class ArcOptions
{
    /// <summary>Validate the ARC chain of inbound mail and report <c>arc=pass/fail/none</c>.</summary>
    public bool Verify { get; set; } = true;

    /// <summary>Seal mail this host forwards, per signing domain. Empty: never seal.</summary>
    public List<ArcSealDomain> Seal { get; set; } = new();

    /// <summary>The authserv-id written into ARC-Authentication-Results; should equal the A-R authserv-id (default: host name).</summary>
    public string? AuthServId { get; set; }

    /// <summary>Header fields the ARC-Message-Signature covers when present (RFC 8617 §4.1.2; ARC-Seal is never listed).</summary>
    public List<string> Headers { get; set; } =
    [
        "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To", "References", "MIME-Version",
        "Content-Type", "Content-Transfer-Encoding", "DKIM-Signature", "List-Id", "List-Unsubscribe", "List-Post",
    ];

    /// <summary>Refuse key files readable or writable by group or others.</summary>
    public bool RequireSafeKeys { get; set; } = true;

    /// <summary>RSA keys shorter than this make a seal or signature fail (RFC 8301).</summary>
    public int MinimumKeyBits { get; set; } = 1024;

    /// <summary>Checks the values; returns the problems found.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (ArcSealDomain d in Seal)
        {
            if (string.IsNullOrWhiteSpace(d.Domain) || string.IsNullOrWhiteSpace(d.Selector) || string.IsNullOrWhiteSpace(d.KeyFile))
            {
                errors.Add("Arc:Seal entries need Domain, Selector and KeyFile");
            }
            if (d.ForwardingDomains.Count == 0)
            {
                errors.Add($"Arc:Seal entry for {d.Domain} needs ForwardingDomains (the recipient domains whose mail this host forwards)");
            }
        }
        if (MinimumKeyBits < 1024)
        {
            errors.Add("Arc:MinimumKeyBits must be at least 1024 (RFC 8301)");
        }
        return errors;
    }
}
