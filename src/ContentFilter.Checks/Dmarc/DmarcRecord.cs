namespace ContentFilter.Checks.Dmarc;

/// <summary>A DMARC policy record (RFC 7489 §6.3): the tags that decide the result and the policy.</summary>
public sealed record DmarcRecord
{
    /// <summary><c>p</c>: none, quarantine or reject.</summary>
    public required string Policy { get; init; }

    /// <summary><c>sp</c>: policy for subdomains, or null (then <see cref="Policy"/>).</summary>
    public string? SubdomainPolicy { get; init; }

    /// <summary><c>pct</c>: percentage of failing mail the policy applies to (0..100). Default 100.</summary>
    public int Percent { get; init; } = 100;

    /// <summary><c>adkim=s</c>: strict DKIM alignment.</summary>
    public bool StrictDkim { get; init; }

    /// <summary><c>aspf=s</c>: strict SPF alignment.</summary>
    public bool StrictSpf { get; init; }

    /// <summary>True when <paramref name="txt"/> starts with the version tag <c>v=DMARC1</c> (§6.6.3: other records are discarded).</summary>
    public static bool IsDmarcRecord(string txt)
    {
        string t = txt.TrimStart();
        if (!t.StartsWith("v", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        int semi = t.IndexOf(';');
        string first = semi < 0 ? t : t[..semi];
        int eq = first.IndexOf('=');
        return eq > 0 && first[..eq].Trim().Equals("v", StringComparison.OrdinalIgnoreCase)
            && first[(eq + 1)..].Trim().Equals("DMARC1", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Parses a record. A missing or bad <c>p</c> (or bad <c>sp</c>) gives p=none when <c>rua</c> is present and
    /// null (no DMARC processing) otherwise (§6.6.3). Bad pct/adkim/aspf fall back to their defaults; unknown tags
    /// are ignored (§6.3).
    /// </summary>
    public static DmarcRecord? Parse(string txt)
    {
        if (!IsDmarcRecord(txt))
        {
            return null;
        }
        var tags = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string part in txt.Split(';'))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }
            tags.TryAdd(part[..eq].Trim(), part[(eq + 1)..].Trim());
        }
        string? p = Normalize(tags.GetValueOrDefault("p"));
        string? sp = tags.TryGetValue("sp", out string? rawSp) ? Normalize(rawSp) : null;
        bool spBad = rawSp is not null && sp is null;
        if (p is null || spBad)
        {
            if (!tags.TryGetValue("rua", out string? rua) || !rua.Contains(':'))
            {
                return null;
            }
            p = "none";
            sp = null;
        }
        int pct = 100;
        if (tags.TryGetValue("pct", out string? rawPct) && int.TryParse(rawPct, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int parsed) && parsed <= 100)
        {
            pct = parsed;
        }
        return new DmarcRecord
        {
            Policy = p,
            SubdomainPolicy = sp,
            Percent = pct,
            StrictDkim = string.Equals(tags.GetValueOrDefault("adkim"), "s", StringComparison.OrdinalIgnoreCase),
            StrictSpf = string.Equals(tags.GetValueOrDefault("aspf"), "s", StringComparison.OrdinalIgnoreCase),
        };
    }

    private static string? Normalize(string? policy) => policy?.ToLowerInvariant() switch
    {
        "none" => "none",
        "quarantine" => "quarantine",
        "reject" => "reject",
        _ => null,
    };
}
