using ContentFilter.Frontends.Transport;
using ContentFilter.Host.Configuration;
using ContentFilter.Pipeline.Messages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Host.Service;

/// <summary>Opens every enabled listener with the door for its protocol, and closes them gracefully.</summary>
/// <remarks>
/// systemd hears READY=1 only after every listener is bound (the host starts hosted services first). At SIGTERM
/// listeners stop accepting, in-flight transactions get <c>Limits:DrainTimeoutSeconds</c>, then sessions are told 421.
/// </remarks>
public sealed partial class ListenerService(LoadedConfig config, IServiceProvider services, TimeProvider time, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private readonly List<ConnectionListener> _listeners = new();
    private readonly ILogger _logger = loggers.CreateLogger<ListenerService>();

    /// <summary>The bound listeners (endpoints resolved, e.g. for port 0).</summary>
    public IReadOnlyList<ConnectionListener> Listeners => _listeners;

    /// <summary>What is wrong with the listeners right now (a listener whose accept loop ended); empty = healthy.</summary>
    public IReadOnlyList<string> Problems() =>
        _listeners.Where(l => !l.IsAccepting).Select(l => $"listener {l.Name} is not accepting").ToList();

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        PrepareSpool(config.Settings.Spool.Directory);
        try
        {
            foreach (var (name, options) in config.Settings.Listeners.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!options.Enabled)
                {
                    continue;
                }
                (IConnectionHandler handler, ConnectionRefuser? refuser) = DoorFactory.Create(options, services);
                var listener = new ConnectionListener(options, handler, refuser, time, loggers.CreateLogger<ConnectionListener>());
                listener.Start();
                _listeners.Add(listener);
            }
        }
        catch
        {
            await StopAsync(cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        TimeSpan drain = TimeSpan.FromSeconds(config.Settings.Limits.DrainTimeoutSeconds);
        await Task.WhenAll(_listeners.Select(l => l.StopAsync(drain, cancellationToken))).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (ConnectionListener l in _listeners)
        {
            await l.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Creates the spool directory 0700 and removes files a crash left behind: Postfix never got our 2xx for them,
    /// so it still holds those messages and will retry.
    /// </summary>
    private void PrepareSpool(string directory)
    {
        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        Directory.CreateDirectory(directory, owner);
        File.SetUnixFileMode(directory, owner);
        int removed = 0;
        foreach (string f in Directory.EnumerateFiles(directory, "*.eml"))
        {
            try
            {
                File.Delete(f);
                removed++;
            }
            catch (IOException)
            {
            }
        }
        if (removed > 0)
        {
            Log.StaleSpool(_logger, removed, directory);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9301, Level = LogLevel.Information, Message = "Removed {Count} spool files left by an earlier run in {Directory} (Postfix still holds those messages)")]
        public static partial void StaleSpool(ILogger logger, int count, string directory);
    }
}
