using System.Runtime.InteropServices;
using ContentFilter.Host.Configuration;
using ContentFilter.Pipeline.Policy;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Host.Service;

/// <summary>Holds the configuration in force and swaps it on SIGHUP (and <c>systemctl reload</c>).</summary>
/// <remarks>
/// A reload re-reads the file, validates it completely, prepares every <see cref="IReloadable"/> (the greylist
/// whitelist files, the DKIM KeyTable/SigningTable and their keys), and only then swaps: a broken file leaves the old configuration serving, with a log line naming
/// the problem. What a reload changes: the <c>Verdict</c> section, the static <c>LocalDomains:Domains</c>, the
/// greylist whitelists and the DKIM tables and keys. Other sections (scanners, limits, listeners) need a restart. Connections and in-flight mail are not touched.
/// </remarks>
public sealed partial class ReloadCoordinator : IHostedService, IDisposable
{
    private readonly string? _path;
    private readonly IEnumerable<IReloadable> _reloadables;
    private readonly LocalDomains _localDomains;
    private readonly ISystemdNotifier? _notifier;
    private readonly ILogger<ReloadCoordinator> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private PosixSignalRegistration? _sighup;
    private volatile VerdictPolicy _policy;
    private LoadedConfig _config;

    /// <summary>Creates the coordinator with the configuration the service started with.</summary>
    public ReloadCoordinator(LoadedConfig initial, VerdictPolicy policy, LocalDomains localDomains, IEnumerable<IReloadable> reloadables, ILogger<ReloadCoordinator> logger, ISystemdNotifier? notifier = null)
    {
        _config = initial;
        _path = initial.File;
        _policy = policy;
        _localDomains = localDomains;
        _reloadables = reloadables;
        _notifier = notifier;
        _logger = logger;
    }

    /// <summary>The verdict policy in force.</summary>
    public VerdictPolicy Policy => _policy;

    /// <summary>The configuration in force.</summary>
    public LoadedConfig Config => _config;

    /// <summary>How many reloads took effect.</summary>
    public int Generation { get; private set; }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            _ = Task.Run(async () =>
            {
                try
                {
                    await ReloadAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    Log.Failed(_logger, ex);
                }
            });
        });
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Reloads; returns the problems that kept the old configuration (empty = the new one is in force).</summary>
    public async Task<IReadOnlyList<string>> ReloadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Notify($"RELOADING=1\nMONOTONIC_USEC={ServiceManagerNotifications.MonotonicMicroseconds()}");
            LoadedConfig next = ConfigLoader.Load(_path, readDefaultFile: _path is not null);
            var problems = new List<string>(next.Errors);
            var commits = new List<Action>();
            if (problems.Count == 0)
            {
                foreach (IReloadable r in _reloadables)
                {
                    try
                    {
                        commits.Add(await r.PrepareAsync(cancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        problems.Add($"{r.Name}: {ex.Message}");
                    }
                }
            }
            if (problems.Count > 0)
            {
                foreach (string p in problems)
                {
                    Log.Rejected(_logger, p);
                }
                return problems;
            }

            VerdictPolicyOptions verdict = next.Get<VerdictPolicyOptions>("Verdict");
            if (string.IsNullOrEmpty(verdict.HostName))
            {
                verdict.HostName = _policy.HostName;
            }
            _policy = new VerdictPolicy(verdict, _localDomains);
            if (next.Settings.LocalDomains.Sql.ConnectionString.Length == 0)
            {
                _localDomains.Replace(next.Settings.LocalDomains.Domains);
            }
            foreach (Action commit in commits)
            {
                commit();
            }
            foreach (var (name, l) in next.Settings.Listeners)
            {
                if (!_config.Settings.Listeners.TryGetValue(name, out ContentFilter.Frontends.Transport.ListenerOptions? old) || old.Endpoint != l.Endpoint || old.Enabled != l.Enabled || old.Protocol != l.Protocol)
                {
                    Log.NeedsRestart(_logger, name);
                }
            }
            _config = next;
            Generation++;
            Log.Reloaded(_logger, _path ?? "(defaults)", Generation);
            return problems;
        }
        finally
        {
            Notify("READY=1");
            _gate.Release();
        }
    }

    private void Notify(string state)
    {
        if (_notifier is { IsEnabled: true })
        {
            _notifier.Notify(new ServiceState(state));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _sighup?.Dispose();
        _gate.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9201, Level = LogLevel.Information, Message = "Configuration {Path} reloaded (generation {Generation})")]
        public static partial void Reloaded(ILogger logger, string path, int generation);

        [LoggerMessage(EventId = 9202, Level = LogLevel.Error, Message = "Reload rejected, the old configuration stays in force: {Problem}")]
        public static partial void Rejected(ILogger logger, string problem);

        [LoggerMessage(EventId = 9204, Level = LogLevel.Error, Message = "Reload failed; the old configuration stays in force")]
        public static partial void Failed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 9203, Level = LogLevel.Warning, Message = "Listener {Listener} changed; restart the service to apply listener changes")]
        public static partial void NeedsRestart(ILogger logger, string listener);
    }
}
