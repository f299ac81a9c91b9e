namespace ContentFilter.Checks.Greylisting;

/// <summary>Greylisting settings (config section <c>Greylist</c>); defaults are postgrey 1.37's.</summary>
/// <remarks>PROTOCOLS.md §6. Validated by <see cref="Validate"/> at start-up.</remarks>
public sealed class GreylistOptions
{
    /// <summary>Where triplets live: <c>sqlite</c> (one file, one host) or <c>redis</c> (shared by several MX hosts). Default <c>sqlite</c>.</summary>
    public string Store { get; set; } = "sqlite";

    /// <summary>SQLite database file. Default <c>/var/lib/contentfilter/greylist.db</c>.</summary>
    public string SqlitePath { get; set; } = "/var/lib/contentfilter/greylist.db";

    /// <summary>StackExchange.Redis configuration string, e.g. <c>redis1:6379,redis2:6379,password=...</c>. Default <c>127.0.0.1:6379</c>.</summary>
    public string RedisConfiguration { get; set; } = "127.0.0.1:6379";

    /// <summary>Prefix of every Redis key, so one Redis can serve other uses. Default <c>cf:grey:</c>.</summary>
    public string RedisKeyPrefix { get; set; } = "cf:grey:";

    /// <summary>Seconds a new triplet must wait before a retry passes (postgrey <c>--delay</c>). Default 300.</summary>
    public int DelaySeconds { get; set; } = 300;

    /// <summary>Seconds after the first try within which a retry must come, else the wait starts again (postgrey <c>--retry-window</c>, 2 days).</summary>
    public int RetryWindowSeconds { get; set; } = 2 * 24 * 3600;

    /// <summary>Seconds a record (and an auto-whitelisted client) is kept unseen (postgrey <c>--max-age</c>, 35 days).</summary>
    public int MaxAgeSeconds { get; set; } = 35 * 24 * 3600;

    /// <summary>Passed triplets after which a client IP skips greylisting; 0 turns auto-whitelisting off (postgrey <c>--auto-whitelist-clients</c>). Default 5.</summary>
    public int AutoWhitelistClients { get; set; } = 5;

    /// <summary>Key on the full client IP instead of its /24 or /64 (postgrey <c>--lookup-by-host</c>). Default false.</summary>
    public bool LookupByHost { get; set; }

    /// <summary>The text after <c>DEFER_IF_PERMIT</c>; <c>%r</c> is the recipient domain, <c>%s</c> the seconds left (postgrey <c>--greylist-text</c>).</summary>
    public string GreylistText { get; set; } = "Greylisted, see http://postgrey.schweikert.ch/help/%r.html";

    /// <summary>Add <c>X-Greylist: delayed N seconds by ...</c> on the first pass after a delay (once per message). Default true.</summary>
    public bool AddHeader { get; set; } = true;

    /// <summary>Our name in the X-Greylist header; empty = the machine's host name (the host fills it in).</summary>
    public string HostName { get; set; } = "";

    /// <summary>
    /// Store keys as one-way hashes instead of addresses (postgrey <c>--privacy</c>): <c>none</c>, <c>sha256</c>, or
    /// <c>hmac-sha256</c> keyed with <see cref="PrivacyKey"/> (a plain hash of an address can be reversed by hashing
    /// guesses; a secret key stops that). Default <c>none</c>.
    /// </summary>
    public string Privacy { get; set; } = "none";

    /// <summary>Secret for <c>hmac-sha256</c>. All MX hosts sharing a Redis store need the same one.</summary>
    public string PrivacyKey { get; set; } = "";

    /// <summary>Client whitelist files in postgrey's format; a missing <c>.local</c> file is not an error.</summary>
    public List<string> WhitelistClientFiles { get; set; } = ["/etc/contentfilter/whitelist_clients", "/etc/contentfilter/whitelist_clients.local"];

    /// <summary>Recipient whitelist files in postgrey's format; a missing <c>.local</c> file is not an error.</summary>
    public List<string> WhitelistRecipientFiles { get; set; } = ["/etc/contentfilter/whitelist_recipients", "/etc/contentfilter/whitelist_recipients.local"];

    /// <summary>Beyond postgrey: let a client pass when SPF passes for the sender's domain. Default false.</summary>
    public bool PassSpf { get; set; }

    /// <summary>
    /// Beyond postgrey: let a client pass when its reverse DNS name is forward-confirmed and under one of these
    /// domains (big senders rotate IPs across a pool, so their retry rarely comes from the same /24). Default empty.
    /// </summary>
    public List<string> FcrdnsDomains { get; set; } = [];

    /// <summary>Remove old records at most this often (postgrey: every 23 h between 02:00 and 06:59 local time). Default 23 h.</summary>
    public int ExpiryIntervalSeconds { get; set; } = 23 * 3600;

    /// <summary>Checks the values; returns messages naming the key.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Store is not ("sqlite" or "redis"))
        {
            errors.Add($"Store: must be \"sqlite\" or \"redis\", not \"{Store}\"");
        }
        if (Store == "sqlite" && string.IsNullOrWhiteSpace(SqlitePath))
        {
            errors.Add("SqlitePath: required when Store is \"sqlite\"");
        }
        if (Store == "redis" && string.IsNullOrWhiteSpace(RedisConfiguration))
        {
            errors.Add("RedisConfiguration: required when Store is \"redis\"");
        }
        if (DelaySeconds < 0)
        {
            errors.Add("DelaySeconds: must not be negative");
        }
        if (RetryWindowSeconds <= DelaySeconds)
        {
            errors.Add("RetryWindowSeconds: must be longer than DelaySeconds");
        }
        if (MaxAgeSeconds < RetryWindowSeconds)
        {
            errors.Add("MaxAgeSeconds: must not be shorter than RetryWindowSeconds");
        }
        if (AutoWhitelistClients < 0)
        {
            errors.Add("AutoWhitelistClients: must not be negative (0 turns it off)");
        }
        if (Privacy is not ("none" or "sha256" or "hmac-sha256"))
        {
            errors.Add($"Privacy: must be \"none\", \"sha256\" or \"hmac-sha256\", not \"{Privacy}\"");
        }
        if (Privacy == "hmac-sha256" && PrivacyKey.Length < 16)
        {
            errors.Add("PrivacyKey: at least 16 characters are required for hmac-sha256");
        }
        if (GreylistText.Any(char.IsControl))
        {
            errors.Add("GreylistText: must not contain control characters");
        }
        if (ExpiryIntervalSeconds < 60)
        {
            errors.Add("ExpiryIntervalSeconds: must be at least 60");
        }
        return errors;
    }
}
