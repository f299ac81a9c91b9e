using ContentFilter.Checks.Greylisting;
using ContentFilter.Testing;
using Microsoft.Data.Sqlite;
using static ContentFilter.Checks.Tests.Greylisting.SqliteTestChecks;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>
/// The SQLite store's WAL checkpoints run on their own connection and thread: no query waits on one, the rows reach
/// the database file, and under steady writes the WAL still starts over instead of growing without end.
/// </summary>
public class SqliteCheckpointTests : IClassFixture<GreylistStoreFixture>
{
    private readonly GreylistStoreFixture _fixture;

    public SqliteCheckpointTests(GreylistStoreFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task ACheckpointInProgress_HoldsNoQuery_AndAfterwardsTheRowsAreInTheDatabaseFile()
    {
        string path = _fixture.NewSqlitePath();
        using var held = new FirstCallHolder(Wait);
        await using var store = new SqliteGreylistStore(path, null, pagesPerCheckpoint: 10, held.Hook);

        for (int i = 0; i < 10; i++)
        {
            await store.CheckAsync(Check($"a{i}"), CancellationToken.None);
        }
        Assert.True(await held.Entered.WaitAsync(Wait), "the 10th page write asks for a checkpoint");

        // The checkpoint thread is stuck in its checkpoint: queries go on all the same.
        for (int i = 0; i < 100; i++)
        {
            GreylistCheckResult result = await store.CheckAsync(Check($"b{i}"), CancellationToken.None).AsTask().WaitAsync(Wait);
            Assert.False(result.Triplet.Found);
        }
        Assert.Equal(0, store.Checkpoints);
        Assert.True(store.WaitUntilWritten(Wait));
        Assert.Equal(110, SqliteRows.Count(path));

        // Released, it checkpoints, then once more for the requests made meanwhile (one, however many there were).
        held.Release();
        await Poll.UntilAsync(() => store.Checkpoints == 2, Wait, "two checkpoints");

        // Every row is in the database file itself, not only in the WAL.
        string copy = Path.Combine(Path.GetDirectoryName(path)!, "copy.db");
        File.Copy(path, copy);
        Assert.Equal(110, SqliteRows.Count(copy));
    }

    [Fact]
    public async Task UnderSteadyConcurrentWrites_TheWalStartsOver()
    {
        const int PagesPerCheckpoint = 50;
        const int Queries = 4000;
        string path = _fixture.NewSqlitePath();
        await using var store = new SqliteGreylistStore(path, null, PagesPerCheckpoint, null, writeDelay: TimeSpan.Zero);

        // Each query written before the next (the writer would otherwise put many in one transaction).
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (int i = w; i < Queries; i += 8)
            {
                await store.CheckAsync(Check($"t{i}"), CancellationToken.None);
                Assert.True(store.WaitUntilWritten(Wait));
            }
        }))).WaitAsync(Wait);

        await Poll.UntilAsync(() => store.WalRestarts > 0, Wait, "a checkpoint that restarts the WAL");
        await store.CheckAsync(Check("last"), CancellationToken.None);
        Assert.True(store.WaitUntilWritten(Wait));

        // Each commit appended at least a frame; the WAL now holds far fewer than all of them: it started over.
        (long frames, _) = WalFrames(path);
        Assert.True(frames < Queries / 2, $"{frames} frames in the WAL after {Queries + 1} queries written one or a few at a time, {store.Checkpoints} checkpoints, {store.WalRestarts} restarts");
        Assert.Equal(Queries + 1, SqliteRows.Count(path));
    }

    /// <summary>(frames in the WAL, frames copied), as SQLite reports them for a passive checkpoint from another connection.</summary>
    private static (long Frames, long Copied) WalFrames(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
        using SqliteDataReader reader = command.ExecuteReader();
        Assert.True(reader.Read());
        return (reader.GetInt64(1), reader.GetInt64(2));
    }
}
