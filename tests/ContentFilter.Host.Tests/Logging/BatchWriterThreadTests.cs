using System.Collections.Concurrent;
using ContentFilter.Host.Logging;

namespace ContentFilter.Host.Tests.Logging;

public sealed class BatchWriterThreadTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public void Signal_StartsTheThreadOnce_AndTheCallbackWritesWhatIsQueued()
    {
        var owner = new Owner();
        using var writer = new BatchWriterThread("test writer", TimeSpan.Zero, owner.WriteQueued, startNow: false);

        owner.Queue.Enqueue("a");
        writer.Signal();
        Assert.True(owner.WaitForWritten(1), "the signal did not reach the callback");
        owner.Queue.Enqueue("b");
        writer.Signal();
        Assert.True(owner.WaitForWritten(2), "the second signal did not reach the callback");

        Assert.Equal(["a", "b"], owner.Written);
        Thread thread = Assert.Single(owner.Threads);
        Assert.Equal("test writer", thread.Name);
        Assert.True(thread.IsBackground);
        Assert.NotEqual(Environment.CurrentManagedThreadId, thread.ManagedThreadId);
    }

    [Fact]
    public async Task Dispose_DuringAWrite_WritesWhatWasQueuedMeanwhile_JoinsAndCallsNothingAfterwards()
    {
        using var gate = new ManualResetEventSlim(false);
        var owner = new Owner { HoldFirstWrite = gate };
        var writer = new BatchWriterThread("test writer", BatchWriterThread.DefaultDelay, owner.WriteQueued, startNow: false);

        owner.Queue.Enqueue("a");
        writer.Signal();
        Assert.True(owner.FirstWriteEntered.Wait(Wait), "the callback never ran");
        // The thread is inside its write, past the queue: "b" is queued and signalled, then the writer is stopped.
        owner.Queue.Enqueue("b");
        writer.Signal();
        Task disposed = Task.Run(writer.Dispose);
        Assert.True(SpinWait.SpinUntil(() => writer.IsStopping, Wait), "Dispose did not mark the writer stopping");
        Assert.False(disposed.IsCompleted, "Dispose returned before the thread's last write");
        gate.Set();
        await disposed.WaitAsync(Wait);

        Assert.Equal(["a", "b"], owner.Written);
        Thread thread = Assert.Single(owner.Threads);
        Assert.False(thread.IsAlive, "Dispose returned before the thread ended");

        // Stopped: a signal starts no thread, so what is queued now stays for the owner to write.
        int calls = owner.Calls;
        owner.Called.Reset();
        owner.Queue.Enqueue("c");
        writer.Signal();
        writer.Dispose();
        Assert.False(owner.Called.Wait(TimeSpan.FromMilliseconds(200)), "a callback after Dispose");
        Assert.Equal(calls, owner.Calls);
        Assert.Equal(["c"], owner.Queue);
    }

    [Fact]
    public void StartNow_DisposeWithoutASignal_TheThreadWritesOnceMoreAndEnds()
    {
        var owner = new Owner();
        var writer = new BatchWriterThread("eager writer", BatchWriterThread.DefaultDelay, owner.WriteQueued, startNow: true);

        // Queued without a signal (the sink's callers always signal; this shows the stop writes regardless).
        owner.Queue.Enqueue("a");
        writer.Dispose();

        Assert.Equal(["a"], owner.Written);
        Thread thread = Assert.Single(owner.Threads);
        Assert.Equal("eager writer", thread.Name);
        Assert.False(thread.IsAlive);
    }

    [Fact]
    public void Lazy_DisposeWithoutASignal_NoThreadAndNoCallback()
    {
        var owner = new Owner();
        var writer = new BatchWriterThread("lazy writer", BatchWriterThread.DefaultDelay, owner.WriteQueued, startNow: false);

        owner.Queue.Enqueue("a");
        writer.Dispose();
        writer.Signal();

        Assert.True(writer.IsStopping);
        Assert.Equal(0, owner.Calls);
        Assert.Equal(["a"], owner.Queue);
    }

    /// <summary>A batching writer's owner: a queue, and a callback that records what it wrote and on which thread.</summary>
    private sealed class Owner
    {
        private readonly List<string> _written = [];
        private readonly HashSet<Thread> _threads = [];
        private int _calls;

        public ConcurrentQueue<string> Queue { get; } = new();

        /// <summary>When set, the first call waits for it (at most 10 s) after taking the queue.</summary>
        public ManualResetEventSlim? HoldFirstWrite { get; init; }

        public ManualResetEventSlim FirstWriteEntered { get; } = new(false);

        /// <summary>Set by every call.</summary>
        public ManualResetEventSlim Called { get; } = new(false);

        public int Calls => Volatile.Read(ref _calls);

        public string[] Written
        {
            get
            {
                lock (_written)
                {
                    return [.. _written];
                }
            }
        }

        public Thread[] Threads
        {
            get
            {
                lock (_written)
                {
                    return [.. _threads];
                }
            }
        }

        public void WriteQueued()
        {
            bool first = Interlocked.Increment(ref _calls) == 1;
            lock (_written)
            {
                _threads.Add(Thread.CurrentThread);
                while (Queue.TryDequeue(out string? item))
                {
                    _written.Add(item);
                }
                Monitor.PulseAll(_written);
            }
            Called.Set();
            if (first && HoldFirstWrite is not null)
            {
                FirstWriteEntered.Set();
                HoldFirstWrite.Wait(Wait);
            }
        }

        /// <summary>Waits (at most 10 s) until <paramref name="count"/> items have been written.</summary>
        public bool WaitForWritten(int count)
        {
            DateTime end = DateTime.UtcNow + Wait;
            lock (_written)
            {
                while (_written.Count < count)
                {
                    TimeSpan left = end - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || !Monitor.Wait(_written, left))
                    {
                        return _written.Count >= count;
                    }
                }
                return true;
            }
        }
    }
}
