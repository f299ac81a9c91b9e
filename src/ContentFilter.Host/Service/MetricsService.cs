using ContentFilter.Frontends.Transport;
using ContentFilter.Host.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace ContentFilter.Host.Service;

/// <summary>Serves the <c>ContentFilter</c> meter (and process metrics) in Prometheus text format over HTTP.</summary>
/// <remarks>prometheus-net's meter adapter exports the BCL <see cref="System.Diagnostics.Metrics.Meter"/> the components record to.</remarks>
public sealed partial class MetricsService(MetricsSettings settings, ILogger<MetricsService> logger) : IHostedService, IDisposable
{
    private MetricServer? _server;
    private PrometheusMeterBridge? _bridge;

    /// <summary>The URL being served, once started.</summary>
    public string? Url { get; private set; }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!settings.Enabled)
        {
            return Task.CompletedTask;
        }
        ListenEndpoint ep = ListenEndpoint.Parse(settings.Endpoint);
        string host = ep!.Address!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ep.Address}]" : ep.Address.ToString();
        _bridge = new PrometheusMeterBridge();
        _server = new MetricServer(host, ep.Port, "metrics/");
        _server.Start();
        Url = $"http://{host}:{ep.Port}/metrics";
        Log.Serving(logger, Url);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _server?.Dispose();
        _bridge?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "Metrics at {Url}")]
        public static partial void Serving(ILogger logger, string url);
    }
}
