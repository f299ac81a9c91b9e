namespace ContentFilter.Testing.Daemons;

/// <summary>Samples a process's peak RSS (<c>VmHWM</c>) in the background and remembers the largest value seen.</summary>
public sealed class RssSampler : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _peak;

    internal RssSampler(int pid, TimeSpan interval)
    {
        Pid = pid;
        Sample();
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Sample();
                try
                {
                    await Task.Delay(interval, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
    }

    /// <summary>The sampled process.</summary>
    public int Pid { get; }

    /// <summary>The largest VmHWM seen, bytes.</summary>
    public long PeakBytes => Interlocked.Read(ref _peak);

    /// <summary>Takes one more sample now and stops.</summary>
    public async ValueTask DisposeAsync()
    {
        Sample();
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private void Sample()
    {
        long? hwm = ProcStatus.PeakRssBytes(Pid);
        if (hwm is long v)
        {
            long seen;
            while (v > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, v, seen) != seen)
            {
            }
        }
    }
}
