namespace ContentFilter.Pipeline.Policy;

/// <summary>The set of domains this site receives mail for (amavis's <c>@local_domains_acl</c>).</summary>
/// <remarks>
/// Decides inbound vs outbound per recipient and which per-domain policy applies. An entry <c>example.com</c>
/// matches that domain only (Postfix <c>virtual_mailbox_domains</c> semantics); <c>.example.com</c> matches its
/// subdomains too (amavis semantics). The set is swapped atomically, so a refresh from the database never shows a
/// half-built set, and a failed refresh keeps the last good one.
/// </remarks>
public sealed class LocalDomains
{
    private volatile Snapshot _current = new(new HashSet<string>(StringComparer.OrdinalIgnoreCase), Array.Empty<string>());

    /// <summary>Creates an empty set.</summary>
    public LocalDomains()
    {
    }

    /// <summary>Creates a set from entries.</summary>
    public LocalDomains(IEnumerable<string> entries) => Replace(entries);

    /// <summary>How many entries are in force.</summary>
    public int Count => _current.Exact.Count + _current.Parents.Length;

    /// <summary>When the set was last replaced (null = never).</summary>
    public DateTimeOffset? LastUpdated { get; private set; }

    /// <summary>True when <paramref name="domainOrAddress"/> (a domain, or an address whose domain is checked) is local.</summary>
    public bool IsLocal(string domainOrAddress)
    {
        string domain = domainOrAddress.Contains('@') ? domainOrAddress[(domainOrAddress.LastIndexOf('@') + 1)..] : domainOrAddress;
        domain = domain.TrimEnd('.');
        Snapshot s = _current;
        if (s.Exact.Contains(domain))
        {
            return true;
        }
        foreach (string parent in s.Parents)
        {
            if (domain.EndsWith(parent, StringComparison.OrdinalIgnoreCase) || domain.Equals(parent[1..], StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Replaces the whole set at once.</summary>
    public void Replace(IEnumerable<string> entries, DateTimeOffset? when = null)
    {
        var exact = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var parents = new List<string>();
        foreach (string raw in entries)
        {
            string e = raw.Trim().TrimEnd('.').ToLowerInvariant();
            if (e.Length == 0 || e == ".")
            {
                continue;
            }
            if (e.StartsWith('.'))
            {
                parents.Add(e);
            }
            else
            {
                exact.Add(e);
            }
        }
        _current = new Snapshot(exact, parents.ToArray());
        LastUpdated = when;
    }

    private sealed record Snapshot(HashSet<string> Exact, string[] Parents);
}
