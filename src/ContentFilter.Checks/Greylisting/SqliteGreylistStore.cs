using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Greylisting;

/// <summary>The embedded store: one SQLite file in WAL mode (default <c>/var/lib/contentfilter/greylist.db</c>).</summary>
/// <remarks>
/// <para>One connection per store, with its statements prepared once; operations are serialised in-process by a
/// lock and run as <c>BEGIN IMMEDIATE</c> transactions, so another process on the same file (e.g. a second
/// instance during a restart) waits on SQLite's write lock (<c>busy_timeout</c>) instead of losing an update. WAL
/// with <c>synchronous=NORMAL</c> keeps a commit to a memory-speed append; a power cut may lose the last few
/// triplets, which only means those senders wait once more. Checkpoints (copying the WAL into the file, with its
/// syncs) run on a second connection and thread (<see cref="SqliteWalCheckpointer"/>), not in a query's commit.</para>
/// <para>Each operation is a few microseconds, so it runs synchronously under the lock rather than hopping threads;
/// a policy query's step (<see cref="CheckAsync"/>) is group-committed with the queries that arrive meanwhile, so
/// the commit's cost (file locks, WAL append) is shared by a burst instead of paid per query.</para>
/// </remarks>
public sealed class SqliteGreylistStore : IGreylistStore
{
    private const int DrainRounds = 64;

    // Batches a leader commits for others before it hands the rest to the pool (its own answer waits for them).
    private const int LeaderRounds = 8;

    /// <summary>Page writes between checkpoints: SQLite's own automatic checkpoint interval (1,000 WAL pages).</summary>
    internal const int DefaultPagesPerCheckpoint = 1000;
    private static readonly List<Waiter> Empty = [];

    private readonly object _gate = new();
    private readonly object _queueGate = new();
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;
    private readonly SqliteCommand _getTriplet;
    private readonly SqliteCommand _putTriplet;
    private readonly SqliteCommand _getClient;
    private readonly SqliteCommand _putClient;
    private readonly Action? _beforeGroupCommit;
    private readonly SqliteWalCheckpointer _checkpointer;
    private readonly int _pagesPerCheckpoint;
    private int _pagesSinceCheckpoint;
    private List<Waiter> _queue = [];
    private bool _committing;
    private long _groupCommits;
    private bool _disposed;

    /// <summary>Opens (and creates) the database at <paramref name="path"/>.</summary>
    public SqliteGreylistStore(string path)
        : this(path, beforeGroupCommit: null)
    {
    }

    /// <summary>Opens (and creates) the database at <paramref name="path"/>; failed WAL checkpoints are logged to <paramref name="logger"/>.</summary>
    /// <param name="path">The database file.</param>
    /// <param name="logger">Where the checkpoint thread's trouble is logged (<see cref="SqliteWalCheckpointer"/>); null = nowhere.</param>
    /// <param name="time">The clock spacing those warnings; null = the system's.</param>
    public SqliteGreylistStore(string path, ILogger? logger, TimeProvider? time = null)
        : this(path, null, DefaultPagesPerCheckpoint, null, logger, time)
    {
    }

    /// <summary>Tests: <paramref name="beforeGroupCommit"/> runs in the committer before each group transaction, its batch already taken.</summary>
    internal SqliteGreylistStore(string path, Action? beforeGroupCommit)
        : this(path, beforeGroupCommit, DefaultPagesPerCheckpoint, null)
    {
    }

    /// <summary>Tests: checkpoints after <paramref name="pagesPerCheckpoint"/> page writes (the WAL starts over from 4 × as many frames); <paramref name="beforeCheckpoint"/> runs on the checkpoint thread before each.</summary>
    internal SqliteGreylistStore(string path, Action? beforeGroupCommit, int pagesPerCheckpoint, Action? beforeCheckpoint, ILogger? logger = null, TimeProvider? time = null)
    {
        _beforeGroupCommit = beforeGroupCommit;
        _pagesPerCheckpoint = pagesPerCheckpoint;
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 10,
        };
        _connection = new SqliteConnection(builder.ToString());
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA synchronous=NORMAL;");
        Execute("PRAGMA busy_timeout=10000;");
        Execute("PRAGMA wal_autocheckpoint=0;"); // SqliteWalCheckpointer does it, off the query path
        Execute("""
            CREATE TABLE IF NOT EXISTS triplet (key TEXT PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS client (key TEXT PRIMARY KEY, count INTEGER NOT NULL, last INTEGER NOT NULL) WITHOUT ROWID;
            """);

        _begin = Prepare("BEGIN IMMEDIATE;");
        _commit = Prepare("COMMIT;");
        _rollback = Prepare("ROLLBACK;");
        _getTriplet = Prepare("SELECT first, last FROM triplet WHERE key = $key;", "$key");
        _putTriplet = Prepare("INSERT INTO triplet (key, first, last) VALUES ($key, $first, $last) ON CONFLICT(key) DO UPDATE SET first = excluded.first, last = excluded.last;", "$key", "$first", "$last");
        _getClient = Prepare("SELECT count, last FROM client WHERE key = $key;", "$key");
        _putClient = Prepare("INSERT INTO client (key, count, last) VALUES ($key, $count, $last) ON CONFLICT(key) DO UPDATE SET count = excluded.count, last = excluded.last;", "$key", "$count", "$last");
        _checkpointer = new SqliteWalCheckpointer(builder.ToString(), 4L * pagesPerCheckpoint, HoldWrites, beforeCheckpoint, logger, time);
    }

    /// <summary>Checkpoints run so far by the checkpoint thread; for tests and diagnostics.</summary>
    internal long Checkpoints => _checkpointer.Checkpoints;

    /// <summary>Checkpoints that made the WAL start over; for tests and diagnostics.</summary>
    internal long WalRestarts => _checkpointer.Restarts;

    /// <summary>Checkpoints that failed (each logged or counted in the next warning); for tests and diagnostics.</summary>
    internal long CheckpointFailures => _checkpointer.Failures;

    /// <inheritdoc />
    public ValueTask<TripletState> UpdateTripletAsync(string key, long now, GreylistTiming timing, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(InTransaction(() => UpdateTriplet(key, now, timing)));
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> TouchAutoWhitelistedAsync(string clientKey, long now, int threshold, GreylistTiming timing, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(InTransaction(() => TouchAutoWhitelisted(clientKey, now, threshold, timing)));
        }
    }

    /// <inheritdoc />
    public ValueTask<int> CountPassAsync(string clientKey, long now, GreylistTiming timing, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(InTransaction(() => CountPass(clientKey, now, timing)));
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// <para>Group commit: queries that arrive while a transaction is running queue up, and the next
    /// <c>BEGIN IMMEDIATE</c> ... <c>COMMIT</c> applies all of them in arrival order, so a burst of queries shares
    /// one commit (one set of file locks, one WAL append) instead of paying for one each. Each caller's task
    /// completes only after the transaction holding its update has committed, so no answer is ever given for state
    /// that could still be lost by a rollback; if the transaction fails, every query in it fails with that error
    /// (the policy door then closes without a reply, and Postfix applies its default action).</para>
    /// <para>No thread waits: the caller that finds no transaction running runs one at once for its own query (so a
    /// lone query costs what it did before); others queue and return a pending task. When queries arrived meanwhile,
    /// that caller commits them too, in batches, releasing each batch's callers (their continuations run on its
    /// thread, as socket continuations do) before the next; after 8 batches a thread-pool work item takes over.
    /// Handing every batch to the pool cost a pool thread's wake-up and spinning per batch, more than the batch's
    /// own transaction; the price is that the first caller's answer waits for those few batches.</para>
    /// </remarks>
    public ValueTask<GreylistCheckResult> CheckAsync(GreylistCheck check, CancellationToken cancellationToken)
    {
        lock (_queueGate)
        {
            if (_committing)
            {
                var waiter = new Waiter(check);
                _queue.Add(waiter);
                return new ValueTask<GreylistCheckResult>(waiter.Task);
            }
            _committing = true;
        }
        return ValueTask.FromResult(Lead(check));
    }

    /// <summary>Transactions committed by <see cref="CheckAsync"/> (a batch of queries each); for tests and diagnostics.</summary>
    public long GroupCommits => Interlocked.Read(ref _groupCommits);

    /// <summary>Runs the caller's own query in a transaction, as the committer, then the queries that queued meanwhile.</summary>
    /// <remarks>The queue is empty when it starts: a committer only stops when it is.</remarks>
    private GreylistCheckResult Lead(GreylistCheck own)
    {
        try
        {
            return RunBatch(own, Empty);
        }
        finally
        {
            Drain(LeaderRounds);
        }
    }

    /// <summary>Commits what is queued, a batch per transaction, until the queue is empty or after <paramref name="rounds"/> batches a pool work item goes on.</summary>
    private void Drain(int rounds)
    {
        for (int round = 0; ; round++)
        {
            lock (_queueGate)
            {
                if (_queue.Count == 0)
                {
                    _committing = false;
                    return;
                }
            }
            if (round == rounds)
            {
                // Give the thread back now and then; the next work item goes on committing.
                ThreadPool.UnsafeQueueUserWorkItem(static store => store.Drain(DrainRounds), this, preferLocal: false);
                return;
            }
            List<Waiter> batch = TakeQueued();
            try
            {
                RunBatch(null, batch);
                // The callers' continuations run here, inline; a query one of them sends meanwhile only queues (we
                // are still the committer), never starts a nested transaction on this thread.
                Complete(batch);
            }
            catch (Exception ex)
            {
                Fail(batch, ex);
            }
        }
    }

    /// <summary>One transaction: <paramref name="own"/> first (when given), then <paramref name="batch"/> in arrival order.</summary>
    private GreylistCheckResult RunBatch(GreylistCheck? own, List<Waiter> batch)
    {
        if (own is null && batch.Count == 0)
        {
            return default;
        }
        _beforeGroupCommit?.Invoke();
        lock (_gate)
        {
            GreylistCheckResult result = InTransaction(() =>
            {
                GreylistCheckResult first = own is { } check ? Apply(check) : default;
                foreach (Waiter waiter in batch)
                {
                    waiter.Result = Apply(waiter.Check);
                }
                return first;
            });
            Interlocked.Increment(ref _groupCommits);
            return result;
        }
    }

    /// <summary>One query's store work inside the caller's transaction.</summary>
    private GreylistCheckResult Apply(in GreylistCheck check)
    {
        if (check.CheckAutoWhitelist && check.ClientKey is not null && TouchAutoWhitelisted(check.ClientKey, check.Now, check.Threshold, check.Timing))
        {
            return new GreylistCheckResult(true, default, 0);
        }
        TripletState state = UpdateTriplet(check.TripletKey, check.Now, check.Timing);
        int count = GreylistChecks.IsFirstPass(state, check) ? CountPass(check.ClientKey!, check.Now, check.Timing) : 0;
        return new GreylistCheckResult(false, state, count);
    }

    private List<Waiter> TakeQueued()
    {
        lock (_queueGate)
        {
            if (_queue.Count == 0)
            {
                return Empty;
            }
            List<Waiter> batch = _queue;
            _queue = [];
            return batch;
        }
    }

    /// <summary>After holding writes off: stop being the committer when nothing is queued, else let a pool work item commit the rest.</summary>
    private void ReleaseOrHandOff() => Drain(0);

    private static void Complete(List<Waiter> batch)
    {
        foreach (Waiter waiter in batch)
        {
            waiter.TrySetResult(waiter.Result);
        }
    }

    private static void Fail(List<Waiter> batch, Exception ex)
    {
        foreach (Waiter waiter in batch)
        {
            waiter.TrySetException(ex);
        }
    }

    /// <inheritdoc />
    public ValueTask<int> ExpireAsync(long now, GreylistTiming timing, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(InTransaction(() =>
            {
                using SqliteCommand triplets = _connection.CreateCommand();
                triplets.CommandText = "DELETE FROM triplet WHERE $now - last > $maxAge OR (last - first < $delay AND $now - last > $window);";
                triplets.Parameters.AddWithValue("$now", now);
                triplets.Parameters.AddWithValue("$maxAge", timing.MaxAge);
                triplets.Parameters.AddWithValue("$delay", timing.Delay);
                triplets.Parameters.AddWithValue("$window", timing.RetryWindow);
                int removed = triplets.ExecuteNonQuery();
                using SqliteCommand clients = _connection.CreateCommand();
                clients.CommandText = "DELETE FROM client WHERE $now - last > $maxAge;";
                clients.Parameters.AddWithValue("$now", now);
                clients.Parameters.AddWithValue("$maxAge", timing.MaxAge);
                return removed + clients.ExecuteNonQuery();
            }));
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _checkpointer.Dispose(); // first, and outside the lock: a checkpoint it is running may be holding writes off
        lock (_gate)
        {
            if (!_disposed)
            {
                _disposed = true;
                foreach (SqliteCommand c in new[] { _begin, _commit, _rollback, _getTriplet, _putTriplet, _getClient, _putClient })
                {
                    c.Dispose();
                }
                _connection.Dispose();
            }
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Runs <paramref name="work"/> (the checkpoint thread's) while the store commits nothing.</summary>
    /// <remarks>
    /// Taking the committer's role when it is free makes queries that arrive meanwhile queue for the next group
    /// commit instead of blocking their (socket) threads on the lock; when a committer is running, it is the one
    /// that waits.
    /// </remarks>
    private void HoldWrites(Action work)
    {
        bool committer;
        lock (_queueGate)
        {
            committer = !_committing;
            _committing = true;
        }
        try
        {
            lock (_gate)
            {
                if (!_disposed)
                {
                    work();
                }
            }
        }
        finally
        {
            if (committer)
            {
                ReleaseOrHandOff();
            }
        }
    }

    private T InTransaction<T>(Func<T> work)
    {
        Begin();
        try
        {
            T result = work();
            Commit();
            if (_pagesSinceCheckpoint >= _pagesPerCheckpoint)
            {
                _pagesSinceCheckpoint = 0;
                _checkpointer.Request();
            }
            return result;
        }
        catch
        {
            Rollback();
            throw;
        }
    }

    private void Begin()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _begin.ExecuteNonQuery();
    }

    private void Commit() => _commit.ExecuteNonQuery();

    private void Rollback()
    {
        try
        {
            _rollback.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
            // No transaction left to roll back (SQLite rolled it back itself): the original error matters.
        }
    }

    // The three operations, inside a transaction the caller holds (under _gate).
    private TripletState UpdateTriplet(string key, long now, GreylistTiming timing)
    {
        (long First, long Last)? record = Read(_getTriplet, key);
        TripletState state = TripletRules.Update(record?.First, record?.Last, now, timing);
        Write(_putTriplet, key, state.First, now);
        return state;
    }

    private bool TouchAutoWhitelisted(string clientKey, long now, int threshold, GreylistTiming timing)
    {
        (long Count, long Last)? record = Read(_getClient, clientKey);
        if (record is not { } r || now - r.Last > timing.MaxAge || r.Count < threshold)
        {
            return false;
        }
        Write(_putClient, clientKey, r.Count, now);
        return true;
    }

    private int CountPass(string clientKey, long now, GreylistTiming timing)
    {
        (long Count, long Last)? record = Read(_getClient, clientKey);
        if (record is { } r && now - r.Last <= timing.MaxAge)
        {
            if (now - r.Last <= timing.AutoWhitelistInterval)
            {
                return (int)r.Count;
            }
            Write(_putClient, clientKey, r.Count + 1, now);
            return (int)r.Count + 1;
        }
        Write(_putClient, clientKey, 1, now);
        return 1;
    }

    private static (long, long)? Read(SqliteCommand command, string key)
    {
        command.Parameters[0].Value = key;
        using SqliteDataReader reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : null;
    }

    private void Write(SqliteCommand command, string key, long a, long b)
    {
        _pagesSinceCheckpoint++; // at most one page each (a row is a few dozen bytes): a bound on the WAL's growth
        command.Parameters[0].Value = key;
        command.Parameters[1].Value = a;
        command.Parameters[2].Value = b;
        command.ExecuteNonQuery();
    }

    private void Execute(string sql)
    {
        using SqliteCommand command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private SqliteCommand Prepare(string sql, params string[] parameters)
    {
        SqliteCommand command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (string p in parameters)
        {
            command.Parameters.Add(new SqliteParameter(p, null));
        }
        command.Prepare();
        return command;
    }

    /// <summary>A queued query: completed (inline, by the committer) after its transaction commits.</summary>
    private sealed class Waiter(GreylistCheck check) : TaskCompletionSource<GreylistCheckResult>
    {
        public GreylistCheck Check { get; } = check;

        public GreylistCheckResult Result { get; set; }
    }
}
