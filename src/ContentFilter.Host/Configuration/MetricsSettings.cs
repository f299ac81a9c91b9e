namespace ContentFilter.Host.Configuration;

/// <summary>The Prometheus/OpenMetrics endpoint (<c>http://127.0.0.1:10028/metrics</c>).</summary>
public sealed class MetricsSettings
{
    /// <summary>Serve metrics. Default true (loopback only).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Listen address; a non-loopback one is refused unless <see cref="AllowNonLoopback"/>.</summary>
    public string Endpoint { get; set; } = "127.0.0.1:10028";

    /// <summary>Allow a non-loopback metrics endpoint (put a firewall in front). Default false.</summary>
    public bool AllowNonLoopback { get; set; }
}
