using ContentFilter.Checks.Greylisting;
using Microsoft.Data.Sqlite;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>Holds the first call of a store's test hook (the writer's transaction, a checkpoint) until released; later calls pass.</summary>
internal sealed class FirstCallHolder(TimeSpan wait) : IDisposable
{
    private readonly ManualResetEventSlim _go = new(false);
    private int _calls;

    /// <summary>Released once when the first call has arrived and is being held.</summary>
    public SemaphoreSlim Entered { get; } = new(0);

    /// <summary>The hook: holds the first call (at most <c>wait</c>).</summary>
    public void Hook()
    {
        if (Interlocked.Increment(ref _calls) == 1)
        {
            Entered.Release();
            _go.Wait(wait);
        }
    }

    /// <summary>Lets the held call go on.</summary>
    public void Release() => _go.Set();

    public void Dispose()
    {
        _go.Set();
        _go.Dispose();
        Entered.Dispose();
    }
}

/// <summary>Reads a greylist database from outside the store, on a connection of its own.</summary>
internal static class SqliteRows
{
    /// <summary>Rows in <paramref name="table"/> of the database at <paramref name="path"/>.</summary>
    public static long Count(string path, string table = "triplet")
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {table}";
        return (long)command.ExecuteScalar()!;
    }
}

/// <summary>The queries and bounds the SQLite store's tests share (<c>using static</c>).</summary>
internal static class SqliteTestChecks
{
    /// <summary>The queries' clock (Unix seconds).</summary>
    public const long Now = 1_795_000_000;

    /// <summary>How long a test waits for the store's threads at most.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>postgrey's defaults: 300 s delay, 2 days' retry window, 35 days' maximum age, one pass counted an hour.</summary>
    public static readonly GreylistTiming Timing = new(300, 2 * 24 * 3600, 35 * 24 * 3600, 3600);

    /// <summary>A query for <paramref name="triplet"/>; with <paramref name="client"/>, the auto-whitelist is checked too (threshold 5).</summary>
    public static GreylistCheck Check(string? triplet, string? client = null)
        => new(triplet!, client, client is not null, 5, Now, Timing);
}
