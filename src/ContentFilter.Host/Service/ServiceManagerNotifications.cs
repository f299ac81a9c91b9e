using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Host.Service;

/// <summary>
/// Tells the service manager (systemd <c>Type=notify</c>, sd_notify protocol over <c>$NOTIFY_SOCKET</c>) what the
/// service is doing: <c>READY=1</c> once every listener is bound, <c>STOPPING=1</c> at shutdown, and
/// <c>WATCHDOG=1</c> every half <c>$WATCHDOG_USEC</c> while the service is healthy (<c>WatchdogSec=</c> in the unit).
/// <c>RELOADING=1</c>/<c>READY=1</c> around a reload come from <see cref="ReloadCoordinator"/>.
/// </summary>
/// <remarks>
/// Active whenever <c>$NOTIFY_SOCKET</c> is set, as libsystemd's <c>sd_notify</c> is: the service also works under
/// <c>systemd-run</c> and other managers speaking the protocol, not only when its parent process is systemd.
/// Healthy means: every listener is still accepting and this timer still gets a thread (a starved thread pool or
/// a dead accept loop stops the pings, and systemd restarts the service; Postfix keeps the mail meanwhile).
/// </remarks>
public sealed partial class ServiceManagerNotifications : IHostedService, IDisposable
{
    private readonly ISystemdNotifier _notifier;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Func<IReadOnlyList<string>> _unhealthy;
    private readonly TimeProvider _time;
    private readonly ILogger<ServiceManagerNotifications> _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<CancellationTokenRegistration> _registrations = new();
    private Task _watchdog = Task.CompletedTask;
    private bool _reportedUnhealthy;

    /// <summary>Creates the notifier service.</summary>
    /// <param name="notifier">The sd_notify transport.</param>
    /// <param name="lifetime">The host's lifetime events.</param>
    /// <param name="unhealthy">Returns what is wrong right now (empty = healthy).</param>
    /// <param name="watchdogInterval">How often to ping; null = no watchdog (<c>$WATCHDOG_USEC</c> unset).</param>
    /// <param name="time">The clock of the ping timer.</param>
    /// <param name="logger">Logs a health problem that stopped the pings.</param>
    public ServiceManagerNotifications(ISystemdNotifier notifier, IHostApplicationLifetime lifetime, Func<IReadOnlyList<string>> unhealthy, TimeSpan? watchdogInterval, TimeProvider time, ILogger<ServiceManagerNotifications> logger)
    {
        _notifier = notifier;
        _lifetime = lifetime;
        _unhealthy = unhealthy;
        WatchdogInterval = watchdogInterval;
        _time = time;
        _logger = logger;
    }

    /// <summary>The ping interval in force, or null without a watchdog.</summary>
    public TimeSpan? WatchdogInterval { get; }

    /// <summary>
    /// Half the watchdog timeout systemd gave this process (<c>$WATCHDOG_USEC</c>, for this pid when
    /// <c>$WATCHDOG_PID</c> is set), as sd_watchdog_enabled(3) advises; null when there is none.
    /// </summary>
    public static TimeSpan? WatchdogIntervalFromEnvironment(Func<string, string?> env, int pid)
    {
        string? pidText = env("WATCHDOG_PID");
        if (!string.IsNullOrEmpty(pidText) && (!int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out int target) || target != pid))
        {
            return null;
        }
        if (!long.TryParse(env("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out long usec) || usec <= 0)
        {
            return null;
        }
        return TimeSpan.FromMicroseconds(usec / 2.0);
    }

    /// <summary>The current CLOCK_MONOTONIC in microseconds, as systemd expects in <c>MONOTONIC_USEC=</c>.</summary>
    public static long MonotonicMicroseconds() => (long)(Stopwatch.GetTimestamp() * (1_000_000.0 / Stopwatch.Frequency));

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_notifier.IsEnabled)
        {
            return Task.CompletedTask;
        }
        _registrations.Add(_lifetime.ApplicationStarted.Register(() =>
        {
            Notify("READY=1\nSTATUS=Accepting mail");
            if (WatchdogInterval is { } interval)
            {
                _watchdog = WatchdogAsync(interval, _stop.Token);
            }
        }));
        _registrations.Add(_lifetime.ApplicationStopping.Register(() =>
        {
            _stop.Cancel();
            Notify("STOPPING=1\nSTATUS=Draining sessions");
        }));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watchdog.ConfigureAwait(false);
    }

    private async Task WatchdogAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        Ping();
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                Ping();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Ping()
    {
        IReadOnlyList<string> problems = _unhealthy();
        if (problems.Count == 0)
        {
            _reportedUnhealthy = false;
            Notify("WATCHDOG=1");
            return;
        }
        if (!_reportedUnhealthy)
        {
            _reportedUnhealthy = true;
            string text = string.Join("; ", problems);
            Log.Unhealthy(_logger, text);
            Notify("STATUS=Unhealthy: " + text);
        }
    }

    private void Notify(string state) => _notifier.Notify(new ServiceState(state));

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (CancellationTokenRegistration r in _registrations)
        {
            r.Dispose();
        }
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9401, Level = LogLevel.Error, Message = "Watchdog pings stopped (systemd will restart the service): {Problems}")]
        public static partial void Unhealthy(ILogger logger, string problems);
    }
}
