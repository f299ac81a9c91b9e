using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ContentFilter.Pipeline.Audit;
using Prometheus;

namespace ContentFilter.Host.Service;

/// <summary>Forwards the <c>ContentFilter</c> meter's measurements into prometheus-net metrics as they happen.</summary>
/// <remarks>
/// Components record to a BCL <see cref="Meter"/> (no metrics library below Host). A direct
/// <see cref="MeterListener"/> keeps the export exact and immediate: counters stay counters
/// (<c>contentfilter_messages_total</c>), up-down counters become gauges, histograms keep buckets.
/// </remarks>
public sealed class PrometheusMeterBridge : IDisposable
{
    private static readonly double[] SecondsBuckets = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, object> _metrics = new();
    private readonly CollectorRegistry _registry;

    /// <summary>Starts listening; metrics are registered in <paramref name="registry"/> (default: prometheus-net's).</summary>
    public PrometheusMeterBridge(CollectorRegistry? registry = null)
    {
        _registry = registry ?? Metrics.DefaultRegistry;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == FilterMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, value, tags, _) => Record(i, value, tags));
        _listener.SetMeasurementEventCallback<double>((i, value, tags, _) => Record(i, value, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var names = new string[tags.Length];
        var values = new string[tags.Length];
        for (int i = 0; i < tags.Length; i++)
        {
            names[i] = tags[i].Key;
            values[i] = tags[i].Value?.ToString() ?? string.Empty;
        }
        Array.Sort(names, values, StringComparer.Ordinal);
        object metric = _metrics.GetOrAdd(instrument, i => Create(i, names));
        switch (metric)
        {
            case Counter c:
                c.WithLabels(values).Inc(value);
                break;
            case Gauge g:
                g.WithLabels(values).Inc(value);
                break;
            case Histogram h:
                h.WithLabels(values).Observe(value);
                break;
        }
    }

    private object Create(Instrument instrument, string[] labelNames)
    {
        var factory = Metrics.WithCustomRegistry(_registry);
        string name = instrument.Name.Replace('.', '_');
        string help = instrument.Description ?? instrument.Name;
        if (instrument.Unit == "s" && !name.EndsWith("_seconds", StringComparison.Ordinal))
        {
            name += "_seconds";
        }
        else if (instrument.Unit == "By" && !name.EndsWith("_bytes", StringComparison.Ordinal))
        {
            name += "_bytes";
        }
        return instrument switch
        {
            Counter<long> or Counter<double> => factory.CreateCounter(name + "_total", help, labelNames),
            UpDownCounter<long> or UpDownCounter<double> => factory.CreateGauge(name, help, labelNames),
            Histogram<double> or Histogram<long> => factory.CreateHistogram(name, help, new HistogramConfiguration { LabelNames = labelNames, Buckets = SecondsBuckets }),
            _ => factory.CreateGauge(name, help, labelNames),
        };
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();
}
