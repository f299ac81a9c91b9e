using Microsoft.Data.Sqlite;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>Holds the first call of a store's test hook (a group transaction, a checkpoint) until released; later calls pass.</summary>
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
