using ContentFilter.Checks.Greylisting;
using ContentFilter.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static ContentFilter.Checks.Tests.Greylisting.SqliteTestChecks;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>
/// The SQLite store answers from its in-memory index at once and writes behind: updates queued meanwhile share the
/// writer's next transaction, a failed write keeps its updates (answers go on) and is retried, too many waiting
/// updates fail queries, and closing writes what is queued.
/// </summary>
/// <remarks>
/// The store's test hook holds the writer just before its transaction (its updates already taken), or fails it, so
/// the tests know what is written when instead of hoping the scheduler lines it up.
/// </remarks>
public sealed class SqliteWriteBehindTests : IClassFixture<GreylistStoreFixture>
{
    private readonly GreylistStoreFixture _fixture;
    private volatile bool _failing;

    public SqliteWriteBehindTests(GreylistStoreFixture fixture)
    {
        _fixture = fixture;
    }

    private void FailWhileFailing()
    {
        if (_failing)
        {
            // Not a SqliteException: whatever a write throws, the writer keeps the updates and lives on.
            throw new UnauthorizedAccessException("permission denied (test)");
        }
    }

    [Fact]
    public async Task AQuery_IsAnsweredAtOnce_BeforeItsUpdateIsWritten_AndTheNextQuerySeesTheUpdate()
    {
        string path = _fixture.NewSqlitePath();
        using var held = new FirstCallHolder(Wait);
        await using var store = new SqliteGreylistStore(path, held.Hook);

        ValueTask<GreylistCheckResult> first = store.CheckAsync(Check("a"), CancellationToken.None);
        Assert.True(first.IsCompletedSuccessfully);
        Assert.False((await first).Triplet.Found);
        Assert.True(await held.Entered.WaitAsync(Wait), "the writer took the update");

        ValueTask<GreylistCheckResult> second = store.CheckAsync(Check("a"), CancellationToken.None);
        Assert.True(second.IsCompletedSuccessfully);
        Assert.True((await second).Triplet.Found);
        Assert.Equal(0, SqliteRows.Count(path));

        held.Release();
        Assert.True(store.WaitUntilWritten(Wait));
        Assert.Equal(1, SqliteRows.Count(path));
        Assert.Equal(0, store.Unwritten);
    }

    [Fact]
    public async Task UpdatesQueuedDuringAWrite_ShareTheNextTransaction_InArrivalOrder()
    {
        string path = _fixture.NewSqlitePath();
        using var held = new FirstCallHolder(Wait);
        await using var store = new SqliteGreylistStore(path, held.Hook);
        await store.CheckAsync(Check("lead"), CancellationToken.None);
        Assert.True(await held.Entered.WaitAsync(Wait));

        // Three queries for each of ten triplets while the writer is held.
        var results = new List<GreylistCheckResult>();
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 10; i++)
            {
                results.Add(await store.CheckAsync(Check($"t{i}", $"c{i}"), CancellationToken.None));
            }
        }
        Assert.Equal(0, SqliteRows.Count(path));
        held.Release();
        Assert.True(store.WaitUntilWritten(Wait));

        // The lead's transaction, then one for the rest; the first query of each triplet found nothing.
        Assert.Equal(2, store.Commits);
        for (int i = 0; i < results.Count; i++)
        {
            Assert.Equal(i >= 10, results[i].Triplet.Found);
            Assert.Equal(Now, results[i].Triplet.First);
        }
        Assert.Equal(11, SqliteRows.Count(path));
    }

    [Fact]
    public async Task UpdatesWithinTheWriteDelay_GoInOneTransaction_AndClosingDoesNotWaitTheDelayOut()
    {
        string path = _fixture.NewSqlitePath();
        var store = new SqliteGreylistStore(path, null, writeDelay: TimeSpan.FromHours(1));
        for (int i = 0; i < 50; i++)
        {
            await store.CheckAsync(Check($"t{i}", $"c{i}"), CancellationToken.None);
        }
        Assert.Equal(0, store.Commits);
        Assert.Equal(50, store.Unwritten);

        await store.DisposeAsync().AsTask().WaitAsync(Wait);

        Assert.Equal(1, store.Commits);
        Assert.Equal(50, SqliteRows.Count(path));
    }

    [Fact]
    public async Task AFailedWrite_KeepsItsUpdates_AnswersGoOn_OneWarning_ThenWrittenAndTheRecoveryLogged()
    {
        string path = _fixture.NewSqlitePath();
        var log = new ListLogger<SqliteGreylistStore>();
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-05T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        _failing = true;
        await using var store = new SqliteGreylistStore(path, FailWhileFailing, logger: log, time: time, retryDelay: TimeSpan.FromMilliseconds(10));

        Assert.False((await store.CheckAsync(Check("a"), CancellationToken.None)).Triplet.Found);
        await Poll.UntilAsync(() => store.WriteFailures >= 3, Wait, "the writer retries", TimeSpan.FromMilliseconds(5));

        // Answers come from memory all the same; nothing is in the file; one warning for the run of failures.
        Assert.True((await store.CheckAsync(Check("a"), CancellationToken.None)).Triplet.Found);
        Assert.Equal(0, SqliteRows.Count(path));
        var warning = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("write failed (1 in a row, 1 updates waiting", warning.Message, StringComparison.Ordinal);
        Assert.Contains("permission denied (test)", warning.Message, StringComparison.Ordinal);

        _failing = false;
        Assert.True(store.WaitUntilWritten(Wait));
        Assert.Equal(1, SqliteRows.Count(path));
        Assert.Equal(2, log.Entries.Count);
        Assert.Equal(LogLevel.Information, log.Entries[1].Level);
        Assert.Contains("writes succeed again", log.Entries[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FromTheBoundOfWaitingUpdates_QueriesFail_UntilTheWriterCatchesUp()
    {
        string path = _fixture.NewSqlitePath();
        using var held = new FirstCallHolder(Wait);
        await using var store = new SqliteGreylistStore(path, held.Hook, maxUnwritten: 3);
        await store.CheckAsync(Check("a"), CancellationToken.None);
        Assert.True(await held.Entered.WaitAsync(Wait));
        await store.CheckAsync(Check("b"), CancellationToken.None);
        await store.CheckAsync(Check("c"), CancellationToken.None);

        InvalidOperationException full = Assert.Throws<InvalidOperationException>(() => store.CheckAsync(Check("d"), CancellationToken.None));
        Assert.Contains("3 updates are waiting to be written", full.Message, StringComparison.Ordinal);

        held.Release();
        Assert.True(store.WaitUntilWritten(Wait));
        Assert.False((await store.CheckAsync(Check("d"), CancellationToken.None)).Triplet.Found);
        Assert.True(store.WaitUntilWritten(Wait));
        Assert.Equal(4, SqliteRows.Count(path));
    }

    [Fact]
    public async Task Closing_WritesWhatIsQueued_AndReopening_ReadsTripletsAndClientsBack()
    {
        string path = _fixture.NewSqlitePath();
        var store = new SqliteGreylistStore(path, null, writeDelay: TimeSpan.FromHours(1));
        await store.CheckAsync(Check("lead"), CancellationToken.None);
        await store.CheckAsync(Check("queued"), CancellationToken.None);
        Assert.Equal(1, await store.CountPassAsync("client", Now, Timing, CancellationToken.None));
        Assert.Equal(3, store.Unwritten);

        await store.DisposeAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(2, SqliteRows.Count(path));
        Assert.Equal(1, SqliteRows.Count(path, "client"));

        await using var reopened = new SqliteGreylistStore(path);
        Assert.True((await reopened.CheckAsync(Check("queued"), CancellationToken.None)).Triplet.Found);
        Assert.True(await reopened.TouchAutoWhitelistedAsync("client", Now, 1, Timing, CancellationToken.None));
    }

    [Fact]
    public async Task Expiry_RemovesRecordsFromTheIndexAsFromTheFile()
    {
        string path = _fixture.NewSqlitePath();
        await using var store = new SqliteGreylistStore(path);
        await store.CheckAsync(Check("old"), CancellationToken.None);
        await store.CheckAsync(Check("fresh") with { Now = Now + (3 * 24 * 3600) }, CancellationToken.None);
        Assert.Equal(2, store.Indexed);

        // "old" was never retried after its delay and is past the retry window.
        Assert.Equal(1, await store.ExpireAsync(Now + (3 * 24 * 3600), Timing, CancellationToken.None));

        Assert.Equal(1, store.Indexed);
        Assert.Equal(1, SqliteRows.Count(path));
    }

    [Fact]
    public async Task ManyConcurrentQueries_EachTripletIsNewExactlyOnce()
    {
        string path = _fixture.NewSqlitePath();
        await using var store = new SqliteGreylistStore(path);

        GreylistCheckResult[][] perWorker = await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var mine = new GreylistCheckResult[100];
            for (int i = 0; i < mine.Length; i++)
            {
                mine[i] = await store.CheckAsync(Check($"t{(i + w) % 20}", $"c{i % 3}"), CancellationToken.None);
            }
            return mine;
        }))).WaitAsync(Wait);

        Assert.Equal(20, perWorker.SelectMany(r => r).Count(r => !r.Triplet.Found));
        Assert.True(store.WaitUntilWritten(Wait));
        Assert.InRange(store.Commits, 1, 800);
        Assert.Equal(20, SqliteRows.Count(path));
    }
}
