using ContentFilter.Host.Configuration;
using ContentFilter.Host.Service;
using ContentFilter.Pipeline.Policy;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;
using MySqlConnector;

namespace ContentFilter.Host.Tests.Service;

/// <summary>Local domains from a REAL MariaDB, shaped like the seed's virtual-domain schema.</summary>
public sealed class SqlLocalDomainsTests
{
    private static async Task ExecAsync(string connectionString, string sql)
    {
        await using var c = new MySqlConnection(connectionString);
        await c.OpenAsync();
        await using MySqlCommand cmd = c.CreateCommand();
        cmd.CommandText = sql;
        await cmd.ExecuteNonQueryAsync();
    }

    [SkippableFact]
    public async Task Refresh_FromVirtualDomainsTable_LoadsAndSurvivesOutage()
    {
        Skip.IfNot(MariaDbInstance.Available, "mariadb-server is not installed");
        await using MariaDbInstance db = await MariaDbInstance.StartAsync();
        await ExecAsync(db.ConnectionString(), """
            CREATE DATABASE mailserver;
            CREATE TABLE mailserver.virtual_domains (id INT NOT NULL AUTO_INCREMENT, name VARCHAR(50) NOT NULL, PRIMARY KEY (id));
            INSERT INTO mailserver.virtual_domains (name) VALUES ('example.com'), ('Example.NET');
            """);

        var settings = new LocalDomainsSettings
        {
            Domains = { ".static.example" },
            Sql = { ConnectionString = db.ConnectionString("mailserver"), TimeoutSeconds = 3 },
        };
        var domains = new LocalDomains();
        var refresher = new SqlLocalDomainsRefresher(settings, domains, TimeProvider.System, NullLogger<SqlLocalDomainsRefresher>.Instance);

        Assert.True(await refresher.RefreshAsync(CancellationToken.None));
        Assert.True(domains.IsLocal("user@example.com"));
        Assert.True(domains.IsLocal("example.net"));
        Assert.True(domains.IsLocal("mx.static.example"));
        Assert.False(domains.IsLocal("sub.example.com"));
        Assert.False(domains.IsLocal("example.org"));

        // Database down: the refresh fails and the last good set stays in force.
        await db.StopServerAsync();
        Assert.False(await refresher.RefreshAsync(CancellationToken.None));
        Assert.True(domains.IsLocal("example.com"));

        // Back up with a changed table: the next refresh picks it up.
        await db.StartServerAsync();
        await ExecAsync(db.ConnectionString("mailserver"), "INSERT INTO virtual_domains (name) VALUES ('example.org')");
        Assert.True(await refresher.RefreshAsync(CancellationToken.None));
        Assert.True(domains.IsLocal("example.org"));
    }

    [Fact]
    public void LocalDomains_DotPrefix_MatchesSubdomainsAndItself()
    {
        var d = new LocalDomains(new[] { ".example.com", "example.net." });
        Assert.True(d.IsLocal("a.b.example.com"));
        Assert.True(d.IsLocal("example.com"));
        Assert.False(d.IsLocal("badexample.com"));
        Assert.True(d.IsLocal("EXAMPLE.NET"));
        Assert.False(d.IsLocal("x.example.net"));
    }
}
