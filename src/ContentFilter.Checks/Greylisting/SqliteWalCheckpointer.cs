using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Greylisting;

/// <summary>Checkpoints the greylist's WAL from its own connection and thread, so the store's writer does not wait on one.</summary>
/// <remarks>
/// <para>With SQLite's automatic checkpoint (every 1,000 WAL pages) the commit that crosses the mark copies the
/// pages into the database file and syncs the WAL and the file (<c>synchronous=NORMAL</c>), a few milliseconds in
/// which the committing thread waits. The store turns that off (<c>wal_autocheckpoint=0</c>) and signals this
/// thread instead after as many page writes.</para>
/// <para>A <c>PASSIVE</c> checkpoint runs beside the writer, so under steady load the writer has always appended
/// a little more by the time it ends and SQLite never starts the WAL over (it does so only when every frame has
/// been copied). When the WAL has grown past <see cref="RestartFrames"/>, the same checkpoint is repeated with the
/// store's writes held off (<c>holdWrites</c>): it copies only what was appended since, and the next commit starts
/// the WAL from the beginning.</para>
/// <para>Durability is what <c>synchronous=NORMAL</c> gives: a commit survives a crash of the process; a power cut
/// may lose the commits since the WAL was last synced by a checkpoint (those senders wait once more).</para>
/// <para>A checkpoint that fails (disk full, I/O error) leaves the WAL growing, so it is logged as a warning with
/// the error and the count of failures in a row: the first one at once, then at most one line per
/// <see cref="FailureLogInterval"/> (a checkpoint is asked for after every 1,000 page writes, which under load is
/// many times a second); when a checkpoint succeeds again after a logged failure, an information line says so.</para>
/// </remarks>
internal sealed partial class SqliteWalCheckpointer : IDisposable
{
    /// <summary>The least time between two warnings about failing checkpoints.</summary>
    public static readonly TimeSpan FailureLogInterval = TimeSpan.FromMinutes(1);

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _passive;
    private readonly Action<Action> _holdWrites;
    private readonly Action? _beforeCheckpoint;
    private readonly ILogger? _logger;
    private readonly ManualResetEventSlim _signal = new(false, spinCount: 0);
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _checkpoints;
    private long _restarts;
    private long _failures;

    // The checkpoint thread's own.
    private readonly FailureRun _failureRun;

    /// <summary>Opens the second connection and starts the thread.</summary>
    /// <param name="connectionString">The store's database.</param>
    /// <param name="restartFrames">WAL frames from which a checkpoint is repeated with writes held off, so the WAL starts over.</param>
    /// <param name="holdWrites">Runs its argument while the store commits nothing.</param>
    /// <param name="beforeCheckpoint">Tests: runs on the thread before each checkpoint.</param>
    /// <param name="logger">Where failed checkpoints are logged; null = nowhere (they are still counted).</param>
    /// <param name="time">The clock that spaces the failure warnings; null = the system's.</param>
    public SqliteWalCheckpointer(string connectionString, long restartFrames, Action<Action> holdWrites, Action? beforeCheckpoint, ILogger? logger = null, TimeProvider? time = null)
    {
        RestartFrames = restartFrames;
        _holdWrites = holdWrites;
        _beforeCheckpoint = beforeCheckpoint;
        _logger = logger;
        _failureRun = new FailureRun(time ?? TimeProvider.System, FailureLogInterval);
        _connection = new SqliteConnection(connectionString);
        _connection.Open();
        _passive = _connection.CreateCommand();
        _passive.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
        _thread = new Thread(Run) { IsBackground = true, Name = "greylist checkpoint" };
        _thread.Start();
    }

    /// <summary>WAL frames from which the WAL is made to start over.</summary>
    public long RestartFrames { get; }

    /// <summary>Checkpoints run (each a <c>PASSIVE</c> one, possibly repeated with writes held off).</summary>
    public long Checkpoints => Interlocked.Read(ref _checkpoints);

    /// <summary>Checkpoints repeated with writes held off so the WAL starts over.</summary>
    public long Restarts => Interlocked.Read(ref _restarts);

    /// <summary>Checkpoints that failed (the WAL keeps its frames; the next one tries again).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Asks for a checkpoint; returns at once.</summary>
    public void Request()
    {
        if (!_signal.IsSet)
        {
            _signal.Set();
        }
    }

    /// <summary>Stops the thread (after a checkpoint it is running) and closes the connection.</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        _signal.Set();
        _thread.Join();
        _passive.Dispose();
        _connection.Dispose();
        _signal.Dispose();
    }

    private void Run()
    {
        while (true)
        {
            _signal.Wait();
            _signal.Reset();
            if (_stopping)
            {
                return;
            }
            try
            {
                _beforeCheckpoint?.Invoke();
                (long log, _) = Passive();
                if (log >= RestartFrames)
                {
                    // Copy the rest while nothing is appended: then every frame is in the file and the next commit
                    // starts the WAL over.
                    _holdWrites(() => Passive());
                    Interlocked.Increment(ref _restarts);
                }
                Succeeded(); // before the count, so whoever sees the count sees the log line too
                Interlocked.Increment(ref _checkpoints);
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
            {
                // A checkpoint that fails leaves the WAL as it was; the next request tries again.
                Failed(ex);
                Interlocked.Increment(ref _failures);
            }
        }
    }

    private void Failed(Exception ex)
    {
        if (_failureRun.Failed() && _logger is not null)
        {
            Log.CheckpointFailed(_logger, _failureRun.InARow, ex.Message);
        }
    }

    private void Succeeded()
    {
        if (_failureRun.Succeeded() is long failures && _logger is not null)
        {
            Log.CheckpointsResumed(_logger, failures);
        }
    }

    /// <summary>One <c>PASSIVE</c> checkpoint: (frames in the WAL, frames copied into the file).</summary>
    private (long Log, long Copied) Passive()
    {
        using SqliteDataReader reader = _passive.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(1), reader.GetInt64(2)) : (0, 0);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6209, Level = LogLevel.Warning, Message = "Greylist database: WAL checkpoint failed ({Failures} in a row): {Error}; the WAL grows until one succeeds (next warning in a minute at the earliest)")]
        public static partial void CheckpointFailed(ILogger logger, long failures, string error);

        [LoggerMessage(EventId = 6210, Level = LogLevel.Information, Message = "Greylist database: WAL checkpoints succeed again after {Failures} failures in a row")]
        public static partial void CheckpointsResumed(ILogger logger, long failures);
    }
}
