namespace ContentFilter.Checks.Dns;

/// <summary>Settings of <see cref="DnsClientResolver"/> (config section <c>Dns</c>).</summary>
/// <remarks>
/// SPF and DMARC results depend on DNS answers, so the servers must be ones the admin trusts (usually a local
/// validating resolver). Timeouts are short because every DNS wait holds an SMTP transaction open.
/// </remarks>
public sealed class DnsOptions
{
    /// <summary>Servers as <c>address[:port]</c> (<c>127.0.0.1:53</c>, <c>[::1]:53</c>); empty = the <c>nameserver</c> lines of <see cref="ResolvConfPath"/>.</summary>
    public List<string> Servers { get; set; } = new();

    /// <summary>The resolver configuration read when <see cref="Servers"/> is empty. Default <c>/etc/resolv.conf</c>.</summary>
    public string ResolvConfPath { get; set; } = "/etc/resolv.conf";

    /// <summary>Timeout of one query attempt in milliseconds. Default 2000.</summary>
    public int TimeoutMs { get; set; } = 2000;

    /// <summary>Retries per server after a timeout or network error. Default 1.</summary>
    public int Retries { get; set; } = 1;

    /// <summary>Most answers kept in the cache (least recently used dropped first); 0 disables caching. Default 1000.</summary>
    public int CacheSize { get; set; } = 1000;

    /// <summary>Longest time in seconds an answer is cached, whatever its TTL says. Default 3600.</summary>
    public int MaxCacheTtlSeconds { get; set; } = 3600;

    /// <summary>Cache time in seconds for NXDOMAIN/NODATA answers that carry no SOA (RFC 2308 §5). Default 60.</summary>
    public int NegativeCacheTtlSeconds { get; set; } = 60;

    /// <summary>Throws when a value is out of range, so that a bad config fails at start-up and not per message.</summary>
    public void Validate()
    {
        if (TimeoutMs is < 1 or > 60_000)
        {
            throw new ArgumentOutOfRangeException(nameof(TimeoutMs), TimeoutMs, "Dns:TimeoutMs must be 1..60000");
        }
        if (Retries is < 0 or > 10)
        {
            throw new ArgumentOutOfRangeException(nameof(Retries), Retries, "Dns:Retries must be 0..10");
        }
        if (CacheSize is < 0 or > 1_000_000)
        {
            throw new ArgumentOutOfRangeException(nameof(CacheSize), CacheSize, "Dns:CacheSize must be 0..1000000");
        }
        if (MaxCacheTtlSeconds < 0 || NegativeCacheTtlSeconds < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCacheTtlSeconds), "Dns cache TTLs must not be negative");
        }
        foreach (string s in Servers)
        {
            _ = DnsClientResolver.ParseServer(s);
        }
    }
}
