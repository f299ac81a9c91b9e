using ContentFilter.Pipeline.Checks;

namespace ContentFilter.Pipeline.Audit;

/// <summary>The one audit record a message leaves, with amavis's structured-report fields.</summary>
public sealed record AuditRecord
{
    /// <summary>When the message was finished with.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>Our mail_id.</summary>
    public required string MailId { get; init; }

    /// <summary>Listener name (<c>inbound</c>, <c>originating</c>, <c>milter</c>).</summary>
    public required string Listener { get; init; }

    /// <summary>Door: smtp, lmtp, milter.</summary>
    public required string Door { get; init; }

    /// <summary><c>Passed</c> or <c>Blocked</c>.</summary>
    public required string Disposition { get; init; }

    /// <summary>Category with names: <c>CLEAN</c>, <c>INFECTED (Eicar-Test-Signature)</c>.</summary>
    public required string Category { get; init; }

    /// <summary>amavis's braces: action + direction (+ <c>,Quarantined</c>), e.g. <c>RelayedInbound</c>.</summary>
    public required string Action { get; init; }

    /// <summary>Client IP.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>Client port.</summary>
    public int? ClientPort { get; init; }

    /// <summary>Client name.</summary>
    public string? ClientName { get; init; }

    /// <summary>Envelope sender (without brackets).</summary>
    public required string Sender { get; init; }

    /// <summary>Envelope recipients.</summary>
    public required IReadOnlyList<string> Recipients { get; init; }

    /// <summary>Upstream queue id.</summary>
    public string? QueueId { get; init; }

    /// <summary>Message-ID header.</summary>
    public string? MessageId { get; init; }

    /// <summary>Spam score, null when unchecked.</summary>
    public double? Hits { get; init; }

    /// <summary>Rules that fired.</summary>
    public IReadOnlyList<string> Rules { get; init; } = Array.Empty<string>();

    /// <summary>Message size in bytes as received.</summary>
    public long Size { get; init; }

    /// <summary>Next hop queue id.</summary>
    public string? QueuedAs { get; init; }

    /// <summary>Quarantine id.</summary>
    public string? QuarantineId { get; init; }

    /// <summary>The reply we gave upstream.</summary>
    public string? Reply { get; init; }

    /// <summary>Why (for temp failures and rejections).</summary>
    public string? Reason { get; init; }

    /// <summary>Total elapsed milliseconds.</summary>
    public double ElapsedMs { get; init; }

    /// <summary>Per-stage timings in milliseconds.</summary>
    public IReadOnlyDictionary<string, double> Timings { get; init; } = new Dictionary<string, double>();

    /// <summary>Per-check status words (<c>clamav=ok</c>, <c>dkim=pass</c>).</summary>
    public IReadOnlyDictionary<string, string> Checks { get; init; } = new Dictionary<string, string>();

    /// <summary>DKIM signatures that verified: selector:domain.</summary>
    public IReadOnlyList<string> DkimValid { get; init; } = Array.Empty<string>();

    /// <summary>DKIM signatures we added: selector:domain.</summary>
    public IReadOnlyList<string> DkimNew { get; init; } = Array.Empty<string>();

    /// <summary>The <see cref="DkimValid"/> entries found in check results: each DKIM pass, as selector:domain (domain alone without a selector).</summary>
    public static List<string> DkimValidFrom(IEnumerable<CheckResult> results)
    {
        var valid = new List<string>();
        foreach (AuthResult auth in results.OfType<AuthResult>())
        {
            foreach (AuthMethodResult m in auth.Results.Where(m => m.Method == "dkim" && m.Result == "pass"))
            {
                string? d = m.Properties.FirstOrDefault(p => p.Key == "header.d").Value;
                string? s = m.Properties.FirstOrDefault(p => p.Key == "header.s").Value;
                if (d is not null)
                {
                    valid.Add(s is null ? d : s + ":" + d);
                }
            }
        }
        return valid;
    }

    /// <summary>The <see cref="DkimNew"/> entries found in check results: the signatures the signer added.</summary>
    public static List<string> DkimNewFrom(IEnumerable<CheckResult> results) =>
        results.OfType<DkimSignResult>().SelectMany(r => r.Signatures).ToList();
}
