namespace ContentFilter.Host.Logging;

/// <summary>
/// The background thread of a batching writer: woken by <see cref="Signal"/>, it calls its owner's
/// <c>writeQueued</c>, which writes everything queued so far, then pauses the batch delay before it waits again.
/// </summary>
/// <remarks>
/// <para>The owner's callers only enqueue and signal. The pause after each batch is what makes a batch: under load
/// the thread writes a couple of hundred times a second whatever the rate, and at rest a record is written within
/// the delay. The event does not spin (<c>spinCount: 0</c>): an idle writer costs no CPU, and a caller that finds
/// it signalled already pays a flag test.</para>
/// <para><see cref="Dispose"/> stops the thread: it calls <c>writeQueued</c> once more, for what was queued while
/// it was writing, and ends; <see cref="Dispose"/> waits for that (at most <see cref="JoinTimeout"/>). After it has
/// ended the thread calls nothing. Exceptions from <c>writeQueued</c> are not caught here: one that escaped would
/// end the thread and so the process, so a callback that can fail catches and reports them itself.</para>
/// </remarks>
internal sealed class BatchWriterThread : IDisposable
{
    /// <summary>The pause after each batch unless the owner chooses another.</summary>
    public static readonly TimeSpan DefaultDelay = TimeSpan.FromMilliseconds(5);

    /// <summary>How long <see cref="Dispose"/> waits for the thread's last write.</summary>
    public static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(10);

    private readonly string _name;
    private readonly TimeSpan _delay;
    private readonly Action _writeQueued;
    private readonly ManualResetEventSlim _signal = new(false, spinCount: 0);
    private readonly object _gate = new();
    private Thread? _thread;
    private volatile bool _stopping;

    /// <summary>Creates the writer; its thread starts now or at the first <see cref="Signal"/>.</summary>
    /// <param name="name">The thread's name (seen in debuggers and <c>top -H</c>).</param>
    /// <param name="delay">The pause after each batch.</param>
    /// <param name="writeQueued">Writes what is queued; called on the thread only, never twice at once.</param>
    /// <param name="startNow">Start the thread now rather than at the first <see cref="Signal"/>.</param>
    public BatchWriterThread(string name, TimeSpan delay, Action writeQueued, bool startNow)
    {
        _name = name;
        _delay = delay;
        _writeQueued = writeQueued;
        if (startNow)
        {
            Start();
        }
    }

    /// <summary>Whether <see cref="Dispose"/> has been called: the thread writes once more (if it runs) and ends.</summary>
    public bool IsStopping => _stopping;

    /// <summary>Wakes the thread (starting it if it has not started); returns at once.</summary>
    /// <remarks>Once stopping, it starts no thread: what is queued then is for the owner to write.</remarks>
    public void Signal()
    {
        if (_thread is null)
        {
            Start();
        }
        if (!_signal.IsSet)
        {
            _signal.Set();
        }
    }

    /// <summary>Stops the thread: it writes what is queued, ends, and this waits for it (at most <see cref="JoinTimeout"/>).</summary>
    public void Dispose()
    {
        Thread? thread;
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }
            _stopping = true;
            thread = _thread;
        }
        _signal.Set();
        thread?.Join(JoinTimeout);
    }

    private void Start()
    {
        // Under the lock with Dispose: no thread starts once it is stopping (there would be no one to join it).
        lock (_gate)
        {
            if (_thread is null && !_stopping)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = _name };
                _thread.Start();
            }
        }
    }

    private void Run()
    {
        while (true)
        {
            _signal.Wait();
            _signal.Reset();
            _writeQueued();
            if (_stopping)
            {
                // What was queued before Dispose but after that write had gone past it.
                _writeQueued();
                return;
            }
            Thread.Sleep(_delay);
        }
    }
}
