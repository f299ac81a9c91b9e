using ContentFilter.Checks.Greylisting;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>One real redis-server for the greylisting tests (each test uses its own key prefix), and SQLite temp files.</summary>
public sealed class GreylistStoreFixture : IAsyncLifetime
{
    private readonly List<string> _directories = [];

    public RedisInstance? Redis { get; private set; }

    public async Task InitializeAsync()
    {
        if (RedisInstance.IsAvailable)
        {
            Redis = await RedisInstance.StartAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
        foreach (string dir in _directories)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A fresh SQLite file path.</summary>
    public string NewSqlitePath()
    {
        string dir = Directory.CreateTempSubdirectory("cf-grey-").FullName;
        lock (_directories)
        {
            _directories.Add(dir);
        }
        return Path.Combine(dir, "greylist.db");
    }

    /// <summary>A unique key prefix, so tests sharing the server never see each other's keys.</summary>
    public static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..12] + ":";

    /// <summary>Opens a store of the given kind; skips the test when Redis is wanted and not installed.</summary>
    public async Task<IGreylistStore> OpenAsync(string kind, string? sqlitePath = null, string? prefix = null)
    {
        if (kind == "sqlite")
        {
            return new SqliteGreylistStore(sqlitePath ?? NewSqlitePath());
        }
        Skip.If(Redis is null, "redis-server is not installed");
        return await RedisGreylistStore.ConnectAsync(Redis!.Configuration, prefix ?? NewPrefix());
    }
}
