using System.Net;
using System.Net.Sockets;
using ContentFilter.Checks.Antivirus;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Checks.Tests.Antivirus;

public class ScannerEndpointTests
{
    [Theory]
    [InlineData("unix:/var/run/clamav/clamd.ctl", "unix:/var/run/clamav/clamd.ctl")]
    [InlineData("/var/run/clamav/clamd.ctl", "unix:/var/run/clamav/clamd.ctl")]
    [InlineData("127.0.0.1:3310", "tcp:127.0.0.1:3310")]
    [InlineData("tcp:127.0.0.1:3310", "tcp:127.0.0.1:3310")]
    [InlineData("127.0.0.1", "tcp:127.0.0.1:783")]
    [InlineData("[::1]:783", "tcp:[::1]:783")]
    [InlineData("localhost:783", "tcp:localhost:783")]
    public void Parse_Forms_Canonical(string text, string display)
    {
        Assert.Equal(display, ScannerEndpoint.Parse(text, 783).Display);
    }

    [Theory]
    [InlineData("")]
    [InlineData("unix:relative/path")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("host:port")]
    [InlineData("[::1")]
    [InlineData(":783")]
    public void TryParse_Invalid_FalseWithReason(string text)
    {
        Assert.False(ScannerEndpoint.TryParse(text, 783, out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Parse_Unix_IsUnixDomainEndPoint()
    {
        ScannerEndpoint e = ScannerEndpoint.Parse("unix:/run/x.sock", 3310);
        Assert.True(e.IsUnix);
        Assert.IsType<UnixDomainSocketEndPoint>(e.EndPoint);
        Assert.IsType<IPEndPoint>(ScannerEndpoint.Parse("127.0.0.1:1", 3310).EndPoint);
    }

    [Fact]
    public async Task Connect_UnixListenQueueFull_WaitsForRoomThenConnects()
    {
        using var queue = new FullListenQueue();
        var time = new CountingTimeProvider();
        ScannerEndpoint endpoint = ScannerEndpoint.Parse("unix:" + queue.Path, 3310);

        Task<Socket> connect = endpoint.ConnectAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None);
        // Timer 1 is the connect deadline, timer 2 the pause after the refused first try.
        await Task.WhenAny(time.WhenCreated(2), connect).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(connect.IsCompleted, connect.Exception?.InnerException?.Message ?? "connected while the queue was full");

        queue.MakeRoom();
        time.Advance(ScannerEndpoint.FirstQueueFullPause);
        using Socket socket = await connect.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(socket.Connected);
    }

    [Fact]
    public async Task Connect_UnixListenQueueStaysFull_TimeoutSaysSo()
    {
        using var queue = new FullListenQueue();
        var time = new CountingTimeProvider();
        ScannerEndpoint endpoint = ScannerEndpoint.Parse("unix:" + queue.Path, 3310);

        Task<Socket> connect = endpoint.ConnectAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None);
        await Task.WhenAny(time.WhenCreated(2), connect).WaitAsync(TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(6));

        var ex = await Assert.ThrowsAsync<TimeoutException>(() => connect.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("listen queue full", ex.Message);
    }

    [Fact]
    public async Task Connect_UnixSocketMissing_FailsAtOnceWithoutRetrying()
    {
        var time = new CountingTimeProvider();
        ScannerEndpoint endpoint = ScannerEndpoint.Parse("unix:/nonexistent/cf-test/clamd.sock", 3310);

        await Assert.ThrowsAsync<SocketException>(() => endpoint.ConnectAsync(TimeSpan.FromSeconds(5), time, CancellationToken.None));
        Assert.Equal(1, time.Created);
    }

    /// <summary>A unix listener with a backlog of 0 that one connection already fills, as a busy clamd's.</summary>
    private sealed class FullListenQueue : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("cf-queue-").FullName;
        private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private readonly Socket _filler = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        private Socket? _accepted;

        public FullListenQueue()
        {
            Path = System.IO.Path.Combine(_directory, "s.sock");
            _listener.Bind(new UnixDomainSocketEndPoint(Path));
            _listener.Listen(0);
            _filler.Connect(new UnixDomainSocketEndPoint(Path));
        }

        public string Path { get; }

        public void MakeRoom() => _accepted = _listener.Accept();

        public void Dispose()
        {
            _accepted?.Dispose();
            _filler.Dispose();
            _listener.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>A fake clock that also counts the timers made on it, so a test can wait for a pause to begin.</summary>
    private sealed class CountingTimeProvider : TimeProvider
    {
        private readonly FakeTimeProvider _inner = new();
        private readonly List<(int Count, TaskCompletionSource Done)> _waiters = new();
        private int _created;

        public int Created => Volatile.Read(ref _created);

        public void Advance(TimeSpan by) => _inner.Advance(by);

        public Task WhenCreated(int count)
        {
            lock (_waiters)
            {
                if (_created >= count)
                {
                    return Task.CompletedTask;
                }
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, done));
                return done.Task;
            }
        }

        public override DateTimeOffset GetUtcNow() => _inner.GetUtcNow();

        public override long GetTimestamp() => _inner.GetTimestamp();

        public override long TimestampFrequency => _inner.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            ITimer timer = _inner.CreateTimer(callback, state, dueTime, period);
            lock (_waiters)
            {
                _created++;
                foreach ((int count, TaskCompletionSource done) in _waiters.Where(w => w.Count <= _created).ToList())
                {
                    done.TrySetResult();
                    _waiters.Remove((count, done));
                }
            }
            return timer;
        }
    }

    [Fact]
    public void ScannerRing_NextOrder_RoundRobinAndEveryServerOnce()
    {
        var ring = new ScannerRing(new[] { "a:1", "b:1", "c:1" }.Select(s => ScannerEndpoint.Parse(s, 1)));
        string[] first = ring.NextOrder().Select(e => e.Display).ToArray();
        string[] second = ring.NextOrder().Select(e => e.Display).ToArray();
        Assert.Equal(new[] { "tcp:a:1", "tcp:b:1", "tcp:c:1" }, first);
        Assert.Equal(new[] { "tcp:b:1", "tcp:c:1", "tcp:a:1" }, second);
    }
}

public class ScannerDefaultsTests
{
    [Fact]
    public void Options_NoServersConfigured_DebianDefaults()
    {
        Assert.Equal(new[] { "unix:/var/run/clamav/clamd.ctl" }, new ContentFilter.Checks.Antivirus.ClamAvOptions().EffectiveServers);
        Assert.Equal(new[] { "127.0.0.1:783" }, new ContentFilter.Checks.Spam.SpamAssassinOptions().EffectiveServers);
        Assert.Equal(512_000, new ContentFilter.Checks.Spam.SpamAssassinOptions().MaxSize);
    }

    [Fact]
    public void Options_ServersConfigured_DefaultNotAdded()
    {
        var o = new ContentFilter.Checks.Antivirus.ClamAvOptions { Servers = { "127.0.0.1:3310" } };
        Assert.Equal(new[] { "127.0.0.1:3310" }, o.EffectiveServers);
    }
}
