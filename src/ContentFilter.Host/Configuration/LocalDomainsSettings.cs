namespace ContentFilter.Host.Configuration;

/// <summary>Which domains are ours: a static list and/or the MariaDB/MySQL table a Postfix virtual-domain site already has.</summary>
public sealed class LocalDomainsSettings
{
    /// <summary>Domains listed here (<c>example.com</c>; <c>.example.com</c> includes subdomains).</summary>
    public List<string> Domains { get; set; } = new();

    /// <summary>The SQL source; off when ConnectionString is empty.</summary>
    public SqlDomainSourceSettings Sql { get; set; } = new();
}

/// <summary>Reads local domains from SQL, cached and refreshed; an outage keeps the last good set.</summary>
public sealed class SqlDomainSourceSettings
{
    /// <summary>MySqlConnector connection string, e.g. <c>Server=localhost;Database=mailserver;User ID=contentfilter;Password=...</c>; empty = off.</summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>A query returning one domain per row in its first column. Default reads the seed's <c>virtual_domains</c> table.</summary>
    public string Query { get; set; } = "SELECT name FROM virtual_domains";

    /// <summary>Seconds between refreshes. Default 300.</summary>
    public int RefreshSeconds { get; set; } = 300;

    /// <summary>Seconds a query may take. Default 10.</summary>
    public int TimeoutSeconds { get; set; } = 10;
}
