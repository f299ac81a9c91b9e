using ContentFilter.Checks.Greylisting;
using ContentFilter.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static ContentFilter.Checks.Tests.Greylisting.SqliteTestChecks;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>
/// A failing WAL checkpoint leaves the WAL growing, so it is logged: the first failure at once, then at most once
/// per <see cref="SqliteWalCheckpointer.FailureLogInterval"/> (checkpoints are asked for many times a second under
/// load), and a line when checkpoints succeed again.
/// </summary>
public sealed class SqliteCheckpointFailureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cf-grey-ckpt-").FullName;
    private volatile bool _failing;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void FailWhenAsked()
    {
        if (_failing)
        {
            throw new InvalidOperationException("disk I/O error (test)");
        }
    }

    [Fact]
    public async Task FailingCheckpoints_WarnedOncePerInterval_WithTheErrorAndTheCount_AndTheRecoveryLogged()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-05T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var log = new ListLogger<SqliteWalCheckpointer>();
        using var checkpointer = new SqliteWalCheckpointer($"Data Source={Path.Combine(_dir, "greylist.db")};Pooling=False", 4000, work => work(), FailWhenAsked, log, time);

        // Each request waits for the one before to be done, so each is one checkpoint.
        async Task CheckpointAsync(Func<bool> done, string what)
        {
            checkpointer.Request();
            await Poll.UntilAsync(done, Wait, what, TimeSpan.FromMilliseconds(5));
        }

        await CheckpointAsync(() => checkpointer.Checkpoints == 1, "a checkpoint that works");
        Assert.Empty(log.Entries);

        _failing = true;
        await CheckpointAsync(() => checkpointer.Failures == 1, "the first failure");
        var warning = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("1 in a row", warning.Message, StringComparison.Ordinal);
        Assert.Contains("disk I/O error (test)", warning.Message, StringComparison.Ordinal);

        // Within the minute: counted, not logged.
        for (int n = 2; n <= 5; n++)
        {
            time.Advance(TimeSpan.FromSeconds(10));
            int failures = n;
            await CheckpointAsync(() => checkpointer.Failures == failures, $"failure {n}");
        }
        Assert.Single(log.Entries);

        // A minute after the first warning: the next failure is logged, with the count so far.
        time.Advance(TimeSpan.FromSeconds(20));
        await CheckpointAsync(() => checkpointer.Failures == 6, "failure 6");
        Assert.Equal(2, log.Entries.Count);
        Assert.Equal(LogLevel.Warning, log.Entries[1].Level);
        Assert.Contains("6 in a row", log.Entries[1].Message, StringComparison.Ordinal);

        _failing = false;
        await CheckpointAsync(() => checkpointer.Checkpoints == 2, "the checkpoint that works again");
        Assert.Equal(3, log.Entries.Count);
        Assert.Equal(LogLevel.Information, log.Entries[2].Level);
        Assert.Contains("succeed again after 6 failures", log.Entries[2].Message, StringComparison.Ordinal);

        // Working on: nothing more to say.
        await CheckpointAsync(() => checkpointer.Checkpoints == 3, "another checkpoint");
        Assert.Equal(3, log.Entries.Count);

        // Failing again within a minute of the last warning: counted, not logged, and so no recovery line either.
        _failing = true;
        await CheckpointAsync(() => checkpointer.Failures == 7, "failure 7");
        _failing = false;
        await CheckpointAsync(() => checkpointer.Checkpoints == 4, "checkpoint 4");
        Assert.Equal(3, log.Entries.Count);

        // Past the interval, a new run of failures is warned about at once.
        time.Advance(SqliteWalCheckpointer.FailureLogInterval);
        _failing = true;
        await CheckpointAsync(() => checkpointer.Failures == 8, "failure 8");
        Assert.Equal(4, log.Entries.Count);
        Assert.Contains("1 in a row", log.Entries[3].Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheStoresLogger_ReachesItsCheckpointThread()
    {
        var log = new ListLogger<SqliteGreylistStore>();
        _failing = true;
        await using var store = new SqliteGreylistStore(Path.Combine(_dir, "store.db"), null, pagesPerCheckpoint: 10, FailWhenAsked, log);

        for (int i = 0; i < 10; i++)
        {
            await store.CheckAsync(Check($"t{i}"), CancellationToken.None);
        }
        await Poll.UntilAsync(() => store.CheckpointFailures == 1, Wait, "the 10th page write asks for a checkpoint, which fails");

        var warning = Assert.Single(log.Entries);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("WAL checkpoint failed (1 in a row): disk I/O error (test)", warning.Message, StringComparison.Ordinal);
    }
}
