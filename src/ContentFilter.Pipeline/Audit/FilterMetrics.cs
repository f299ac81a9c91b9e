using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ContentFilter.Pipeline.Audit;

/// <summary>The service's instruments, on one BCL <see cref="Meter"/> named <c>ContentFilter</c>.</summary>
/// <remarks>
/// Components record through these (no metrics library below Host); the host exports the meter in Prometheus /
/// OpenMetrics form. Names follow Prometheus conventions once exported (<c>contentfilter_messages_total</c>).
/// </remarks>
public static class FilterMetrics
{
    /// <summary>The meter name to export.</summary>
    public const string MeterName = "ContentFilter";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Messages finished, by listener, door, disposition (Passed/Blocked) and category.</summary>
    public static readonly Counter<long> Messages = Meter.CreateCounter<long>("contentfilter.messages", "{message}", "Messages finished, by verdict");

    /// <summary>Bytes of messages finished, by listener.</summary>
    public static readonly Counter<long> MessageBytes = Meter.CreateCounter<long>("contentfilter.message.bytes", "By", "Bytes of messages finished");

    /// <summary>Time per check or stage, in seconds, by check.</summary>
    public static readonly Histogram<double> StageDuration = Meter.CreateHistogram<double>("contentfilter.stage.duration", "s", "Time per check or stage");

    /// <summary>Whole-message processing time in seconds, by listener.</summary>
    public static readonly Histogram<double> MessageDuration = Meter.CreateHistogram<double>("contentfilter.message.duration", "s", "Time from DATA to final reply");

    /// <summary>Open sessions, by listener.</summary>
    public static readonly UpDownCounter<long> Sessions = Meter.CreateUpDownCounter<long>("contentfilter.sessions", "{session}", "Open sessions");

    /// <summary>Connections refused (allow-list, session limit), by listener and reason.</summary>
    public static readonly Counter<long> Refused = Meter.CreateCounter<long>("contentfilter.connections.refused", "{connection}", "Connections refused");

    /// <summary>Reinjection failures (next hop down, 4xx, timeout).</summary>
    public static readonly Counter<long> ReinjectionFailures = Meter.CreateCounter<long>("contentfilter.reinjection.failures", "{message}", "Messages the next hop did not take");

    /// <summary>Check failures (scanner down, timeout), by check.</summary>
    public static readonly Counter<long> CheckFailures = Meter.CreateCounter<long>("contentfilter.check.failures", "{failure}", "Checks that could not run");

    /// <summary>Greylisting decisions, by action and reason class.</summary>
    public static readonly Counter<long> GreylistDecisions = Meter.CreateCounter<long>("contentfilter.greylist.decisions", "{decision}", "Greylisting decisions");

    /// <summary>Bytes currently spooled to disk.</summary>
    public static readonly UpDownCounter<long> SpoolBytes = Meter.CreateUpDownCounter<long>("contentfilter.spool.bytes", "By", "Bytes of messages spooled to disk now");

    /// <summary>Records the metrics an audit record implies.</summary>
    public static void Record(AuditRecord r)
    {
        var tags = new TagList
        {
            { "listener", r.Listener },
            { "door", r.Door },
            { "disposition", r.Disposition },
            { "category", CategoryWord(r.Category) },
        };
        Messages.Add(1, tags);
        MessageBytes.Add(r.Size, new KeyValuePair<string, object?>("listener", r.Listener));
        MessageDuration.Record(r.ElapsedMs / 1000.0, new KeyValuePair<string, object?>("listener", r.Listener));
        foreach (var (stage, ms) in r.Timings)
        {
            StageDuration.Record(ms / 1000.0, new KeyValuePair<string, object?>("stage", stage));
        }
    }

    /// <summary>The category without the names in brackets (<c>INFECTED (Eicar)</c> → <c>INFECTED</c>): bounded label values.</summary>
    public static string CategoryWord(string category)
    {
        int space = category.IndexOf(' ');
        return space < 0 ? category : category[..space];
    }
}
