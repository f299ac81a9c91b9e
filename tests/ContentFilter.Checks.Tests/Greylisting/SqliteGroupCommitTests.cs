using ContentFilter.Checks.Greylisting;
using static ContentFilter.Checks.Tests.Greylisting.SqliteTestChecks;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>
/// The SQLite store's group commit: queries that arrive while a transaction runs share the next one, each answered
/// only after its commit, in arrival order, and a failed transaction fails every query in it.
/// </summary>
/// <remarks>
/// The store's test hook holds the committer just before its transaction (its batch already taken), so the tests
/// know which queries share a transaction instead of hoping the scheduler lines them up.
/// </remarks>
public class SqliteGroupCommitTests : IClassFixture<GreylistStoreFixture>
{
    private readonly GreylistStoreFixture _fixture;

    public SqliteGroupCommitTests(GreylistStoreFixture fixture)
    {
        _fixture = fixture;
    }

    [Fact]
    public async Task LoneQuery_CommitsAtOnceOnTheCallersThread()
    {
        await using var store = new SqliteGreylistStore(_fixture.NewSqlitePath());

        ValueTask<GreylistCheckResult> pending = store.CheckAsync(Check("a"), CancellationToken.None);

        Assert.True(pending.IsCompletedSuccessfully);
        Assert.False((await pending).Triplet.Found);
        Assert.Equal(1, store.GroupCommits);
    }

    [Fact]
    public async Task QueriesArrivingDuringATransaction_WaitForTheNextCommit_AndShareIt()
    {
        string path = _fixture.NewSqlitePath();
        using var held = new FirstCallHolder(Wait);
        await using var store = new SqliteGreylistStore(path, held.Hook);
        Task<GreylistCheckResult> leader = Task.Run(() => store.CheckAsync(Check("lead"), CancellationToken.None).AsTask());
        Assert.True(await held.Entered.WaitAsync(Wait));

        // Three queries for each of ten triplets, queued while the leader's transaction has not started yet.
        var queued = new List<(string Key, Task<GreylistCheckResult> Task)>();
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 10; i++)
            {
                string key = $"t{i}";
                queued.Add((key, store.CheckAsync(Check(key, $"c{i}"), CancellationToken.None).AsTask()));
            }
        }
        Assert.All(queued, q => Assert.False(q.Task.IsCompleted));
        Assert.Equal(0, SqliteRows.Count(path));
        held.Release();

        Assert.False((await leader.WaitAsync(Wait)).Triplet.Found);
        GreylistCheckResult[] results = await Task.WhenAll(queued.Select(q => q.Task)).WaitAsync(Wait);

        // The leader's transaction, then one for all thirty; within it, arrival order: the first query of each
        // triplet finds nothing, the two after it find the record it wrote.
        Assert.Equal(2, store.GroupCommits);
        for (int i = 0; i < queued.Count; i++)
        {
            Assert.Equal(i >= 10, results[i].Triplet.Found);
            Assert.Equal(Now, results[i].Triplet.First);
        }
        Assert.Equal(11, SqliteRows.Count(path));
    }

    [Fact]
    public async Task AFailingQuery_FailsEveryQueryOfItsTransaction_AndNoneOfThemIsStored()
    {
        string path = _fixture.NewSqlitePath();
        using var held = new FirstCallHolder(Wait);
        await using var store = new SqliteGreylistStore(path, held.Hook);
        Task<GreylistCheckResult> leader = Task.Run(() => store.CheckAsync(Check("lead"), CancellationToken.None).AsTask());
        Assert.True(await held.Entered.WaitAsync(Wait));

        // A null key fails in the middle of the next batch (the store refuses to bind it).
        Task<GreylistCheckResult> before = store.CheckAsync(Check("before"), CancellationToken.None).AsTask();
        Task<GreylistCheckResult> bad = store.CheckAsync(Check(null), CancellationToken.None).AsTask();
        Task<GreylistCheckResult> after = store.CheckAsync(Check("after"), CancellationToken.None).AsTask();
        held.Release();

        Assert.False((await leader.WaitAsync(Wait)).Triplet.Found);
        Exception failure = await Assert.ThrowsAnyAsync<Exception>(() => bad.WaitAsync(Wait));
        Assert.Same(failure, await Assert.ThrowsAnyAsync<Exception>(() => before.WaitAsync(Wait)));
        Assert.Same(failure, await Assert.ThrowsAnyAsync<Exception>(() => after.WaitAsync(Wait)));
        Assert.Equal(1, SqliteRows.Count(path));

        // Rolled back, not half applied: the store goes on, and "before" is new again.
        GreylistCheckResult again = await store.CheckAsync(Check("before"), CancellationToken.None).AsTask().WaitAsync(Wait);
        Assert.False(again.Triplet.Found);
        Assert.Equal(2, SqliteRows.Count(path));
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
        Assert.InRange(store.GroupCommits, 1, 800);
        Assert.Equal(20, SqliteRows.Count(path));
    }
}
