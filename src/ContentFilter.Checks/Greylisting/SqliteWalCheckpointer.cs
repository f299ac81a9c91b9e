using Microsoft.Data.Sqlite;

namespace ContentFilter.Checks.Greylisting;

/// <summary>Checkpoints the greylist's WAL from its own connection and thread, so no policy query waits on one.</summary>
/// <remarks>
/// <para>With SQLite's automatic checkpoint (every 1,000 WAL pages) the commit that crosses the mark copies the
/// pages into the database file and syncs the WAL and the file (<c>synchronous=NORMAL</c>), a few milliseconds in
/// which every query of the group commit waits, on the socket thread that happened to commit. The store turns that
/// off (<c>wal_autocheckpoint=0</c>) and signals this thread instead after as many page writes.</para>
/// <para>A <c>PASSIVE</c> checkpoint runs beside the writer, so under steady load the writer has always appended
/// a little more by the time it ends and SQLite never starts the WAL over (it does so only when every frame has
/// been copied). When the WAL has grown past <see cref="RestartFrames"/>, the same checkpoint is repeated with the
/// store's writes held off (<c>holdWrites</c>): it copies only what was appended since, and the next commit starts
/// the WAL from the beginning.</para>
/// <para>Durability is what it was: <c>synchronous=NORMAL</c>, a commit survives a crash of the process; a power
/// cut may lose the commits since the WAL was last synced by a checkpoint (those senders wait once more).</para>
/// </remarks>
internal sealed class SqliteWalCheckpointer : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _passive;
    private readonly Action<Action> _holdWrites;
    private readonly Action? _beforeCheckpoint;
    private readonly ManualResetEventSlim _signal = new(false, spinCount: 0);
    private readonly Thread _thread;
    private volatile bool _stopping;
    private long _checkpoints;
    private long _restarts;
    private long _failures;

    /// <summary>Opens the second connection and starts the thread.</summary>
    /// <param name="connectionString">The store's database.</param>
    /// <param name="restartFrames">WAL frames from which a checkpoint is repeated with writes held off, so the WAL starts over.</param>
    /// <param name="holdWrites">Runs its argument while the store commits nothing.</param>
    /// <param name="beforeCheckpoint">Tests: runs on the thread before each checkpoint.</param>
    public SqliteWalCheckpointer(string connectionString, long restartFrames, Action<Action> holdWrites, Action? beforeCheckpoint)
    {
        RestartFrames = restartFrames;
        _holdWrites = holdWrites;
        _beforeCheckpoint = beforeCheckpoint;
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
                Interlocked.Increment(ref _checkpoints);
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
            {
                // A checkpoint that fails leaves the WAL as it was; the next request tries again.
                Interlocked.Increment(ref _failures);
            }
        }
    }

    /// <summary>One <c>PASSIVE</c> checkpoint: (frames in the WAL, frames copied into the file).</summary>
    private (long Log, long Copied) Passive()
    {
        using SqliteDataReader reader = _passive.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(1), reader.GetInt64(2)) : (0, 0);
    }
}
