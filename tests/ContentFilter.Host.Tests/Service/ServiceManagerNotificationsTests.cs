using System.Collections.Concurrent;
using ContentFilter.Host.Service;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging.Abstractions;
using ContentFilter.Testing;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Host.Tests.Service;

public sealed class ServiceManagerNotificationsTests
{
    private sealed class RecordingNotifier(bool enabled = true) : ISystemdNotifier
    {
        public ConcurrentQueue<string> States { get; } = new();

        public bool IsEnabled => enabled;

        public void Notify(ServiceState state) => States.Enqueue(state.ToString());

        public int Count(string text) => States.Count(s => s.Contains(text, StringComparison.Ordinal));
    }

    private sealed class Lifetime : IHostApplicationLifetime, IDisposable
    {
        private readonly CancellationTokenSource _started = new();
        private readonly CancellationTokenSource _stopping = new();
        private readonly CancellationTokenSource _stopped = new();

        public CancellationToken ApplicationStarted => _started.Token;

        public CancellationToken ApplicationStopping => _stopping.Token;

        public CancellationToken ApplicationStopped => _stopped.Token;

        public void Start() => _started.Cancel();

        public void StopApplication() => _stopping.Cancel();

        public void Dispose()
        {
            _started.Dispose();
            _stopping.Dispose();
            _stopped.Dispose();
        }
    }

    /// <summary>Waits (bounded) until the timer's continuation has run on the thread pool.</summary>
    private static Task UntilAsync(Func<bool> condition, string what) =>
        Poll.UntilAsync(condition, TimeSpan.FromSeconds(10), what, TimeSpan.FromMilliseconds(5));

    [Fact]
    public async Task ReadyAfterStart_WatchdogEveryInterval_StoppingAtShutdown()
    {
        var notifier = new RecordingNotifier();
        using var lifetime = new Lifetime();
        var time = new FakeTimeProvider();
        int checks = 0;
        using var service = new ServiceManagerNotifications(notifier, lifetime, () => { Interlocked.Increment(ref checks); return []; }, TimeSpan.FromSeconds(15), time, NullLogger<ServiceManagerNotifications>.Instance);

        await service.StartAsync(CancellationToken.None);
        Assert.Empty(notifier.States);
        lifetime.Start();
        Assert.Equal(1, notifier.Count("READY=1"));
        Assert.Equal(1, notifier.Count("WATCHDOG=1"));

        time.Advance(TimeSpan.FromSeconds(14));
        time.Advance(TimeSpan.FromSeconds(1));
        await UntilAsync(() => notifier.Count("WATCHDOG=1") == 2, "the second ping");
        time.Advance(TimeSpan.FromSeconds(15));
        await UntilAsync(() => notifier.Count("WATCHDOG=1") == 3, "the third ping");

        lifetime.StopApplication();
        await service.StopAsync(CancellationToken.None);
        Assert.Equal(1, notifier.Count("STOPPING=1"));
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(3, Volatile.Read(ref checks));
        Assert.Equal(3, notifier.Count("WATCHDOG=1"));
    }

    [Fact]
    public async Task Unhealthy_NoPing_StatusSaysWhy_PingsResumeWhenHealthy()
    {
        var notifier = new RecordingNotifier();
        using var lifetime = new Lifetime();
        var time = new FakeTimeProvider();
        IReadOnlyList<string> problems = [];
        int checks = 0;
        using var service = new ServiceManagerNotifications(notifier, lifetime, () => { Interlocked.Increment(ref checks); return problems; }, TimeSpan.FromSeconds(10), time, NullLogger<ServiceManagerNotifications>.Instance);
        await service.StartAsync(CancellationToken.None);
        lifetime.Start();
        Assert.Equal(1, notifier.Count("WATCHDOG=1"));

        problems = ["listener inbound is not accepting"];
        time.Advance(TimeSpan.FromSeconds(10));
        await UntilAsync(() => notifier.Count("STATUS=Unhealthy: listener inbound is not accepting") == 1, "the unhealthy status");
        time.Advance(TimeSpan.FromSeconds(10));
        await UntilAsync(() => Volatile.Read(ref checks) == 3, "the third health check");
        Assert.Equal(1, notifier.Count("WATCHDOG=1"));
        Assert.Equal(1, notifier.Count("Unhealthy"));

        problems = [];
        time.Advance(TimeSpan.FromSeconds(10));
        await UntilAsync(() => notifier.Count("WATCHDOG=1") == 2, "pings resumed");
        lifetime.StopApplication();
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task NoNotifySocket_SendsNothing()
    {
        var notifier = new RecordingNotifier(enabled: false);
        using var lifetime = new Lifetime();
        using var service = new ServiceManagerNotifications(notifier, lifetime, () => [], TimeSpan.FromSeconds(1), new FakeTimeProvider(), NullLogger<ServiceManagerNotifications>.Instance);
        await service.StartAsync(CancellationToken.None);
        lifetime.Start();
        lifetime.StopApplication();
        await service.StopAsync(CancellationToken.None);
        Assert.Empty(notifier.States);
    }

    [Theory]
    [InlineData(null, "30000000", 15_000)]
    [InlineData("4242", "30000000", 15_000)]
    [InlineData("4243", "30000000", null)]
    [InlineData(null, null, null)]
    [InlineData(null, "0", null)]
    [InlineData(null, "abc", null)]
    [InlineData("x", "30000000", null)]
    public void WatchdogInterval_IsHalfTheTimeout_ForThisPidOnly(string? watchdogPid, string? watchdogUsec, int? expectedMs)
    {
        var env = new Dictionary<string, string?> { ["WATCHDOG_PID"] = watchdogPid, ["WATCHDOG_USEC"] = watchdogUsec };
        TimeSpan? interval = ServiceManagerNotifications.WatchdogIntervalFromEnvironment(k => env.GetValueOrDefault(k), 4242);
        Assert.Equal(expectedMs is int ms ? TimeSpan.FromMilliseconds(ms) : null, interval);
    }
}
