using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Greylisting;

/// <summary>The embedded store: one SQLite file in WAL mode (default <c>/var/lib/contentfilter/greylist.db</c>), read once into memory.</summary>
/// <remarks>
/// <para>Queries are answered from memory and their updates written behind. Opening the store reads every record
/// into an in-memory index (keyed by the first 128 bits of the key's SHA-256, 16 bytes of key and 16 of value a
/// record, 73 bytes with the table's own and its room to grow: 73 MB for a million triplets, read in about 2 s
/// here). A query's read-modify-write runs under one lock against that index and never touches SQLite; its updates
/// (newest per key) queue for a writer thread, which lets them gather for <see cref="WriteDelay"/> after the first
/// and then writes everything queued in one <c>BEGIN IMMEDIATE</c> ... <c>COMMIT</c>. Under load one transaction
/// carries hundreds of updates, and no query waits for a commit, a checkpoint or the disk.</para>
/// <para>What that gives up: an update is on disk some 20 to 30 milliseconds after its answer, so a crash of the
/// process (as a power cut already could with <c>synchronous=NORMAL</c>) forgets the last updates, and those senders
/// wait once more, as for a new triplet. Stopping the store writes everything queued. The file belongs to one
/// process: a second store on it is refused (<c>greylist.db.lock</c>). Several hosts share a greylist through
/// Redis.</para>
/// <para>A failed write (disk full, I/O error) keeps its updates queued, logs a warning (the first at once, then
/// at most one a minute; a line when writes succeed again), and is retried after <see cref="WriteRetryDelay"/>;
/// queries go on from memory. From <see cref="MaxUnwritten"/> updates waiting, queries fail (the policy door then
/// closes without a reply, and Postfix applies <c>smtpd_policy_service_default_action</c>) instead of memory
/// growing without end.</para>
/// <para>Checkpoints (copying the WAL into the file, with its syncs) run on a second connection and thread
/// (<see cref="SqliteWalCheckpointer"/>), holding off only the writer when the WAL must start over. Expiry removes
/// old records from the index and the file.</para>
/// </remarks>
public sealed partial class SqliteGreylistStore : IGreylistStore
{
    /// <summary>Updates waiting to be written from which queries fail instead of queueing more.</summary>
    public const int MaxUnwritten = 100_000;

    /// <summary>
    /// How long the writer lets updates queue after the first one before it writes them: a transaction's own cost
    /// (locks, the WAL's frame and index) is then shared by a burst's worth of queries (700 at 35,000 a second)
    /// instead of the few that arrive while the previous one commits. It is also how much longer than an answer an
    /// update may wait to be on disk.
    /// </summary>
    public static readonly TimeSpan WriteDelay = TimeSpan.FromMilliseconds(20);

    /// <summary>How long the writer waits after a failed write before it tries again.</summary>
    public static readonly TimeSpan WriteRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>Page writes between checkpoints: SQLite's own automatic checkpoint interval (1,000 WAL pages).</summary>
    internal const int DefaultPagesPerCheckpoint = 1000;

    // _state guards the index and the queued updates; _write the connection (the writer's transactions, the
    // checkpointer's held writes, expiry, closing). Taken in that order when both are: _write, then _state.
    private readonly object _state = new();
    private readonly object _write = new();
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;
    private readonly SqliteCommand _putTriplet;
    private readonly SqliteCommand _putClient;
    private readonly Action? _beforeWrite;
    private readonly SqliteWalCheckpointer _checkpointer;
    private readonly int _pagesPerCheckpoint;
    private readonly int _maxUnwritten;
    private readonly TimeSpan _retryDelay;
    private readonly TimeSpan _writeDelay;
    private readonly ILogger? _logger;
    private readonly Thread _thread;
    private readonly FileStream _ownership;

    // Every record, by key digest: (first, last) of a triplet, (count, last) of a client.
    private readonly Dictionary<UInt128, (long, long)> _tripletIndex = [];
    private readonly Dictionary<UInt128, (long, long)> _clientIndex = [];

    // Updates not yet written, newest per key; the writer swaps them with its (empty) pair and writes those.
    private Dictionary<string, (long, long)> _triplets = new(StringComparer.Ordinal);
    private Dictionary<string, (long, long)> _clients = new(StringComparer.Ordinal);
    private Dictionary<string, (long, long)> _writingTriplets = new(StringComparer.Ordinal);
    private Dictionary<string, (long, long)> _writingClients = new(StringComparer.Ordinal);
    private bool _writerWaiting;
    private bool _stopping;
    private bool _closed;
    private int _pagesSinceCheckpoint;
    private long _commits;
    private long _writeFailures;

    // The writer's own (under _write).
    private readonly FailureRun _failureRun;

    /// <summary>Opens (and creates) the database at <paramref name="path"/> and reads it into memory.</summary>
    public SqliteGreylistStore(string path)
        : this(path, logger: null)
    {
    }

    /// <summary>Opens (and creates) the database at <paramref name="path"/>; failed writes and WAL checkpoints are logged to <paramref name="logger"/>.</summary>
    /// <param name="path">The database file.</param>
    /// <param name="logger">Where the writer's and the checkpoint thread's trouble is logged; null = nowhere.</param>
    /// <param name="time">The clock spacing those warnings; null = the system's.</param>
    public SqliteGreylistStore(string path, ILogger? logger, TimeProvider? time = null)
        : this(path, null, DefaultPagesPerCheckpoint, null, logger, time)
    {
    }

    /// <summary>Tests: the writer's hooks and bounds.</summary>
    /// <param name="path">The database file.</param>
    /// <param name="beforeWrite">Runs on the writer thread before each transaction, its updates already taken; may throw to fail the write.</param>
    /// <param name="pagesPerCheckpoint">Page writes between checkpoints (the WAL starts over from 4 × as many frames).</param>
    /// <param name="beforeCheckpoint">Runs on the checkpoint thread before each checkpoint.</param>
    /// <param name="logger">Where trouble is logged.</param>
    /// <param name="time">The clock spacing warnings.</param>
    /// <param name="retryDelay">The wait after a failed write (default <see cref="WriteRetryDelay"/>).</param>
    /// <param name="maxUnwritten">The bound on waiting updates (default <see cref="MaxUnwritten"/>).</param>
    /// <param name="writeDelay">How long updates queue before a write (default <see cref="WriteDelay"/>).</param>
    internal SqliteGreylistStore(string path, Action? beforeWrite, int pagesPerCheckpoint = DefaultPagesPerCheckpoint, Action? beforeCheckpoint = null, ILogger? logger = null, TimeProvider? time = null, TimeSpan? retryDelay = null, int maxUnwritten = MaxUnwritten, TimeSpan? writeDelay = null)
    {
        _beforeWrite = beforeWrite;
        _pagesPerCheckpoint = pagesPerCheckpoint;
        _retryDelay = retryDelay ?? WriteRetryDelay;
        _writeDelay = writeDelay ?? WriteDelay;
        _maxUnwritten = maxUnwritten;
        _logger = logger;
        _failureRun = new FailureRun(time ?? TimeProvider.System, SqliteWalCheckpointer.FailureLogInterval);
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }
        _ownership = TakeOwnership(path);
        try
        {
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
            Execute("PRAGMA wal_autocheckpoint=0;"); // SqliteWalCheckpointer does it, off the writer's path
            Execute("""
                CREATE TABLE IF NOT EXISTS triplet (key TEXT PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS client (key TEXT PRIMARY KEY, count INTEGER NOT NULL, last INTEGER NOT NULL) WITHOUT ROWID;
                """);
            Load("SELECT key, first, last FROM triplet;", _tripletIndex);
            Load("SELECT key, count, last FROM client;", _clientIndex);
            _begin = Prepare("BEGIN IMMEDIATE;");
            _commit = Prepare("COMMIT;");
            _rollback = Prepare("ROLLBACK;");
            _putTriplet = Prepare("INSERT INTO triplet (key, first, last) VALUES ($key, $first, $last) ON CONFLICT(key) DO UPDATE SET first = excluded.first, last = excluded.last;", "$key", "$first", "$last");
            _putClient = Prepare("INSERT INTO client (key, count, last) VALUES ($key, $count, $last) ON CONFLICT(key) DO UPDATE SET count = excluded.count, last = excluded.last;", "$key", "$count", "$last");
            _checkpointer = new SqliteWalCheckpointer(builder.ToString(), 4L * pagesPerCheckpoint, HoldWrites, beforeCheckpoint, logger, time);
        }
        catch
        {
            _connection?.Dispose();
            _ownership.Dispose();
            throw;
        }
        _thread = new Thread(WriteLoop) { IsBackground = true, Name = "greylist writer" };
        _thread.Start();
    }

    /// <summary>Checkpoints run so far by the checkpoint thread; for tests and diagnostics.</summary>
    internal long Checkpoints => _checkpointer.Checkpoints;

    /// <summary>Checkpoints that made the WAL start over; for tests and diagnostics.</summary>
    internal long WalRestarts => _checkpointer.Restarts;

    /// <summary>Checkpoints that failed (each logged or counted in the next warning); for tests and diagnostics.</summary>
    internal long CheckpointFailures => _checkpointer.Failures;

    /// <summary>Transactions the writer has committed, each with every update queued when it began; for tests and diagnostics.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Writes that failed (their updates were queued again); for tests and diagnostics.</summary>
    internal long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>Updates not yet committed (queued or being written).</summary>
    public int Unwritten
    {
        get
        {
            lock (_state)
            {
                return UnwrittenCount;
            }
        }
    }

    /// <summary>Records in the in-memory index (triplets and clients); for tests and diagnostics.</summary>
    internal int Indexed
    {
        get
        {
            lock (_state)
            {
                return _tripletIndex.Count + _clientIndex.Count;
            }
        }
    }

    private int UnwrittenCount => _triplets.Count + _clients.Count + _writingTriplets.Count + _writingClients.Count;

    /// <inheritdoc />
    public ValueTask<TripletState> UpdateTripletAsync(string key, long now, GreylistTiming timing, CancellationToken cancellationToken)
    {
        lock (_state)
        {
            CheckRoom();
            TripletState state = UpdateTriplet(key, now, timing);
            WakeWriter();
            return ValueTask.FromResult(state);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> TouchAutoWhitelistedAsync(string clientKey, long now, int threshold, GreylistTiming timing, CancellationToken cancellationToken)
    {
        lock (_state)
        {
            CheckRoom();
            bool whitelisted = TouchAutoWhitelisted(clientKey, now, threshold, timing);
            WakeWriter();
            return ValueTask.FromResult(whitelisted);
        }
    }

    /// <inheritdoc />
    public ValueTask<int> CountPassAsync(string clientKey, long now, GreylistTiming timing, CancellationToken cancellationToken)
    {
        lock (_state)
        {
            CheckRoom();
            int count = CountPass(clientKey, now, timing);
            WakeWriter();
            return ValueTask.FromResult(count);
        }
    }

    /// <inheritdoc />
    /// <remarks>One read-modify-write of the index under the lock, answered at once; the updates are written behind.</remarks>
    public ValueTask<GreylistCheckResult> CheckAsync(GreylistCheck check, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(check.TripletKey);
        lock (_state)
        {
            CheckRoom();
            GreylistCheckResult result;
            if (check.CheckAutoWhitelist && check.ClientKey is not null && TouchAutoWhitelisted(check.ClientKey, check.Now, check.Threshold, check.Timing))
            {
                result = new GreylistCheckResult(true, default, 0);
            }
            else
            {
                TripletState state = UpdateTriplet(check.TripletKey, check.Now, check.Timing);
                int count = GreylistChecks.IsFirstPass(state, check) ? CountPass(check.ClientKey!, check.Now, check.Timing) : 0;
                result = new GreylistCheckResult(false, state, count);
            }
            WakeWriter();
            return ValueTask.FromResult(result);
        }
    }

    /// <summary>Waits until every update made so far is committed (tests; anything that reads the file from outside).</summary>
    /// <returns>False when <paramref name="timeout"/> passed first (e.g. writes keep failing).</returns>
    internal bool WaitUntilWritten(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_state)
        {
            while (UnwrittenCount > 0)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    return false;
                }
                Monitor.Wait(_state, (int)Math.Min(left, int.MaxValue));
            }
            return true;
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Writes what is queued first, then deletes the expired rows from the file and the index; queries wait for the
    /// index's part (a pass over it: milliseconds for a million records, once per <c>ExpiryIntervalSeconds</c>).
    /// </remarks>
    public ValueTask<int> ExpireAsync(long now, GreylistTiming timing, CancellationToken cancellationToken)
    {
        lock (_write)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            WriteQueued();
            int removed = InTransaction(() =>
            {
                using SqliteCommand triplets = _connection.CreateCommand();
                triplets.CommandText = "DELETE FROM triplet WHERE $now - last > $maxAge OR (last - first < $delay AND $now - last > $window);";
                triplets.Parameters.AddWithValue("$now", now);
                triplets.Parameters.AddWithValue("$maxAge", timing.MaxAge);
                triplets.Parameters.AddWithValue("$delay", timing.Delay);
                triplets.Parameters.AddWithValue("$window", timing.RetryWindow);
                int rows = triplets.ExecuteNonQuery();
                using SqliteCommand clients = _connection.CreateCommand();
                clients.CommandText = "DELETE FROM client WHERE $now - last > $maxAge;";
                clients.Parameters.AddWithValue("$now", now);
                clients.Parameters.AddWithValue("$maxAge", timing.MaxAge);
                return rows + clients.ExecuteNonQuery();
            });
            lock (_state)
            {
                // The same rules as the DELETEs; an update queued since (last = now) is never expired.
                RemoveWhere(_tripletIndex, r => TripletRules.TripletExpired(r.First, r.Last, now, timing));
                RemoveWhere(_clientIndex, r => now - r.Last > timing.MaxAge);
            }
            return ValueTask.FromResult(removed);
        }
    }

    /// <inheritdoc />
    /// <remarks>Stops the checkpoint thread, lets the writer write what is queued (one last try), then closes.</remarks>
    public ValueTask DisposeAsync()
    {
        lock (_state)
        {
            if (_stopping)
            {
                return ValueTask.CompletedTask;
            }
            _stopping = true;
            Monitor.PulseAll(_state);
        }
        _checkpointer.Dispose(); // a checkpoint it is running may be holding the writer off
        _thread.Join();
        lock (_write)
        {
            _closed = true;
            foreach (SqliteCommand c in new[] { _begin, _commit, _rollback, _putTriplet, _putClient })
            {
                c.Dispose();
            }
            _connection.Dispose();
            _ownership.Dispose();
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>Locks <c><paramref name="path"/>.lock</c> (<c>flock</c>) for as long as the store is open: the index is this process's, so a second one on the same file is refused.</summary>
    private static FileStream TakeOwnership(string path)
    {
        string lockPath = path + ".lock";
        try
        {
            return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"{path} is in use by another store ({lockPath} is locked): a SQLite greylist belongs to one process; hosts share a greylist through Redis", ex);
        }
    }

    /// <summary>The writer thread: writes what is queued, a transaction at a time, until stopped with nothing left (or its last try failed).</summary>
    private void WriteLoop()
    {
        while (true)
        {
            bool stopping;
            lock (_state)
            {
                while (_triplets.Count + _clients.Count == 0 && !_stopping)
                {
                    _writerWaiting = true;
                    Monitor.Wait(_state);
                    _writerWaiting = false;
                }
                if (_triplets.Count + _clients.Count == 0)
                {
                    return; // stopping, everything written
                }
                if (!_stopping && _writeDelay > TimeSpan.Zero)
                {
                    // Let the burst this update belongs to queue up too: one transaction for all of it.
                    Monitor.Wait(_state, _writeDelay);
                }
                stopping = _stopping;
            }
            bool failed = false;
            lock (_write)
            {
                try
                {
                    WriteQueued();
                }
                catch (Exception ex)
                {
                    // Whatever it is, the updates stay queued and are tried again: letting it end the thread (and
                    // the process) would lose all of them.
                    WriteFailed(ex, stopping);
                    failed = true;
                }
            }
            if (failed)
            {
                if (stopping)
                {
                    return; // the process is going: what is left is lost, as in a crash (logged)
                }
                lock (_state)
                {
                    if (!_stopping)
                    {
                        Monitor.Wait(_state, _retryDelay);
                    }
                }
            }
        }
    }

    /// <summary>Under <see cref="_write"/>: writes the queued updates in one transaction; on failure they are queued again (newer ones kept) and the error thrown.</summary>
    private void WriteQueued()
    {
        lock (_state)
        {
            (_writingTriplets, _triplets) = (_triplets, _writingTriplets);
            (_writingClients, _clients) = (_clients, _writingClients);
        }
        if (_writingTriplets.Count + _writingClients.Count == 0)
        {
            return;
        }
        try
        {
            _beforeWrite?.Invoke();
            InTransaction(() =>
            {
                foreach ((string key, (long first, long last)) in _writingTriplets)
                {
                    Write(_putTriplet, key, first, last);
                }
                foreach ((string key, (long count, long last)) in _writingClients)
                {
                    Write(_putClient, key, count, last);
                }
                return 0;
            });
        }
        catch
        {
            lock (_state)
            {
                Requeue(_writingTriplets, _triplets);
                Requeue(_writingClients, _clients);
            }
            throw;
        }
        Interlocked.Increment(ref _commits);
        WriteSucceeded();
        lock (_state)
        {
            _writingTriplets.Clear();
            _writingClients.Clear();
            Monitor.PulseAll(_state); // whoever waits until written
        }
    }

    /// <summary>Under <see cref="_state"/>: puts failed updates back where no newer one has been queued since.</summary>
    private static void Requeue(Dictionary<string, (long, long)> failed, Dictionary<string, (long, long)> queued)
    {
        foreach ((string key, (long, long) value) in failed)
        {
            queued.TryAdd(key, value);
        }
        failed.Clear();
    }

    /// <summary>Under <see cref="_write"/>: counts and (at most once a minute; always when stopping) logs a failed write.</summary>
    private void WriteFailed(Exception ex, bool stopping)
    {
        Interlocked.Increment(ref _writeFailures);
        bool warn = _failureRun.Failed();
        if (_logger is null)
        {
            return;
        }
        if (stopping)
        {
            Log.LastWriteFailed(_logger, Unwritten, ex.Message);
        }
        else if (warn)
        {
            Log.WriteFailed(_logger, _failureRun.InARow, Unwritten, ex.Message);
        }
    }

    /// <summary>Under <see cref="_write"/>: after warned failures, says that writes work again.</summary>
    private void WriteSucceeded()
    {
        if (_failureRun.Succeeded() is long failures && _logger is not null)
        {
            Log.WritesResumed(_logger, failures);
        }
    }

    /// <summary>Under <see cref="_state"/>: a query may queue updates only while the store is open and fewer than the bound wait.</summary>
    private void CheckRoom()
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (UnwrittenCount >= _maxUnwritten)
        {
            throw new InvalidOperationException($"greylist database: {UnwrittenCount} updates are waiting to be written (is the disk full?)");
        }
    }

    /// <summary>Under <see cref="_state"/>: wakes the writer when it sleeps.</summary>
    private void WakeWriter()
    {
        if (_writerWaiting)
        {
            Monitor.PulseAll(_state);
        }
    }

    /// <summary>Runs <paramref name="work"/> (the checkpoint thread's) while the writer commits nothing; queries go on.</summary>
    private void HoldWrites(Action work)
    {
        lock (_write)
        {
            if (!_closed)
            {
                work();
            }
        }
    }

    private T InTransaction<T>(Func<T> work)
    {
        _begin.ExecuteNonQuery();
        try
        {
            T result = work();
            _commit.ExecuteNonQuery();
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

    // The three operations, under _state: read the index, update it, queue the write.
    private TripletState UpdateTriplet(string key, long now, GreylistTiming timing)
    {
        UInt128 digest = Digest(key);
        (long First, long Last)? record = _tripletIndex.TryGetValue(digest, out (long, long) r) ? r : null;
        TripletState state = TripletRules.Update(record?.First, record?.Last, now, timing);
        _tripletIndex[digest] = (state.First, now);
        _triplets[key] = (state.First, now);
        return state;
    }

    private bool TouchAutoWhitelisted(string clientKey, long now, int threshold, GreylistTiming timing)
    {
        UInt128 digest = Digest(clientKey);
        if (!_clientIndex.TryGetValue(digest, out (long Count, long Last) r) || now - r.Last > timing.MaxAge || r.Count < threshold)
        {
            return false;
        }
        SetClient(clientKey, digest, r.Count, now);
        return true;
    }

    private int CountPass(string clientKey, long now, GreylistTiming timing)
    {
        UInt128 digest = Digest(clientKey);
        long count = 1;
        if (_clientIndex.TryGetValue(digest, out (long Count, long Last) r) && now - r.Last <= timing.MaxAge)
        {
            if (now - r.Last <= timing.AutoWhitelistInterval)
            {
                return (int)r.Count;
            }
            count = r.Count + 1;
        }
        SetClient(clientKey, digest, count, now);
        return (int)count;
    }

    private void SetClient(string key, UInt128 digest, long count, long last)
    {
        _clientIndex[digest] = (count, last);
        _clients[key] = (count, last);
    }

    /// <summary>The index's key for a record key: the first 128 bits of the SHA-256 of its UTF-8 (a collision is not a practical concern).</summary>
    private static UInt128 Digest(string key)
    {
        int length = Encoding.UTF8.GetMaxByteCount(key.Length);
        byte[]? rented = null;
        Span<byte> utf8 = length <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
        try
        {
            int written = Encoding.UTF8.GetBytes(key, utf8);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(utf8[..written], hash);
            return BinaryPrimitives.ReadUInt128LittleEndian(hash);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static void RemoveWhere(Dictionary<UInt128, (long, long)> index, Func<(long First, long Last), bool> expired)
    {
        foreach ((UInt128 digest, (long, long) record) in index)
        {
            if (expired(record))
            {
                index.Remove(digest); // allowed while enumerating
            }
        }
    }

    private void Load(string sql, Dictionary<UInt128, (long, long)> index)
    {
        using SqliteCommand command = _connection.CreateCommand();
        command.CommandText = sql;
        using SqliteDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            index[Digest(reader.GetString(0))] = (reader.GetInt64(1), reader.GetInt64(2));
        }
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

    private static partial class Log
    {
        [LoggerMessage(EventId = 6211, Level = LogLevel.Warning, Message = "Greylist database: write failed ({Failures} in a row, {Unwritten} updates waiting, answers go on from memory): {Error}; retrying (next warning in a minute at the earliest)")]
        public static partial void WriteFailed(ILogger logger, long failures, int unwritten, string error);

        [LoggerMessage(EventId = 6212, Level = LogLevel.Information, Message = "Greylist database: writes succeed again after {Failures} failures in a row")]
        public static partial void WritesResumed(ILogger logger, long failures);

        [LoggerMessage(EventId = 6213, Level = LogLevel.Error, Message = "Greylist database: the last write before stopping failed; {Unwritten} updates are lost (those senders are greylisted once more): {Error}")]
        public static partial void LastWriteFailed(ILogger logger, int unwritten, string error);
    }
}
