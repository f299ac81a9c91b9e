using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ContentFilter.Host.Reports;

/// <summary>
/// What an admin checks each morning, from the JSON audit files: messages by verdict, top viruses, top spam senders
/// and scores, greylisting, quarantine, temporary failures, and latency percentiles per stage.
/// </summary>
/// <remarks>Reads the compact JSON lines written by the audit sink, plain or gzipped (logrotate's <c>.gz</c>).</remarks>
public sealed class AuditReport
{
    private readonly Dictionary<string, int> _verdicts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _viruses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _banned = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<double>> _spamSenders = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<double> _scores = new();
    private readonly Dictionary<string, List<double>> _stages = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _tempFailReasons = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _greylist = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _listeners = new(StringComparer.Ordinal);

    /// <summary>Messages counted.</summary>
    public int Messages { get; private set; }

    /// <summary>Quarantined messages.</summary>
    public int Quarantined { get; private set; }

    /// <summary>Lines that were not audit records or not JSON.</summary>
    public int Skipped { get; private set; }

    /// <summary>Earliest record time seen.</summary>
    public DateTimeOffset? First { get; private set; }

    /// <summary>Latest record time seen.</summary>
    public DateTimeOffset? Last { get; private set; }

    /// <summary>Reads one file (gzip detected by magic bytes), keeping records within [since, until).</summary>
    public void AddFile(string path, DateTimeOffset? since, DateTimeOffset? until)
    {
        using FileStream file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        int n = file.Read(magic);
        file.Position = 0;
        using Stream input = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(input, Encoding.UTF8);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            AddLine(line, since, until);
        }
    }

    /// <summary>Adds one JSON line.</summary>
    public void AddLine(string line, DateTimeOffset? since, DateTimeOffset? until)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        JsonObject? ev;
        try
        {
            ev = JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException)
        {
            Skipped++;
            return;
        }
        if (ev is null)
        {
            Skipped++;
            return;
        }
        JsonObject? audit = ev["Audit"] as JsonObject;
        JsonObject? grey = ev["Greylist"] as JsonObject;
        JsonObject? record = audit ?? grey;
        if (record is null)
        {
            Skipped++;
            return;
        }
        DateTimeOffset time = ParseTime(record["Time"]) ?? ParseTime(ev["@t"]) ?? DateTimeOffset.MinValue;
        if ((since is not null && time < since) || (until is not null && time >= until))
        {
            return;
        }
        First = First is null || time < First ? time : First;
        Last = Last is null || time > Last ? time : Last;
        if (grey is not null)
        {
            string action = Str(grey["Action"]) ?? "?";
            string reason = Str(grey["Reason"]) ?? "?";
            int paren = reason.IndexOf(" (", StringComparison.Ordinal);
            Bump(_greylist, $"{action}: {(paren < 0 ? reason : reason[..paren])}");
            return;
        }
        AddAudit(audit!);
    }

    private void AddAudit(JsonObject a)
    {
        Messages++;
        string disposition = Str(a["Disposition"]) ?? "?";
        string category = Str(a["Category"]) ?? "?";
        string word = category.Split(' ')[0];
        Bump(_verdicts, $"{disposition} {word}");
        Bump(_listeners, Str(a["Listener"]) ?? "?");
        foreach (string name in Names(category))
        {
            Bump(word == "INFECTED" ? _viruses : word == "BANNED" ? _banned : new Dictionary<string, int>(), name);
        }
        if (Str(a["QuarantineId"]) is not null)
        {
            Quarantined++;
        }
        if ((Str(a["Action"]) ?? string.Empty).StartsWith("TempFailed", StringComparison.Ordinal))
        {
            Bump(_tempFailReasons, Str(a["Reason"]) ?? "unknown");
        }
        if (a["Hits"] is JsonValue hv && hv.TryGetValue(out double hits))
        {
            _scores.Add(hits);
            if (word is "SPAM" or "SPAMMY")
            {
                string sender = Str(a["Sender"]) ?? string.Empty;
                if (!_spamSenders.TryGetValue(sender, out List<double>? list))
                {
                    _spamSenders[sender] = list = new List<double>();
                }
                list.Add(hits);
            }
        }
        if (a["Timings"] is JsonObject timings)
        {
            foreach (var (stage, value) in timings)
            {
                if (value is JsonValue v && v.TryGetValue(out double ms))
                {
                    Stage(stage).Add(ms);
                }
            }
        }
        if (a["ElapsedMs"] is JsonValue ev && ev.TryGetValue(out double total))
        {
            Stage("total").Add(total);
        }
    }

    private List<double> Stage(string name)
    {
        if (!_stages.TryGetValue(name, out List<double>? list))
        {
            _stages[name] = list = new List<double>();
        }
        return list;
    }

    /// <summary>The report as text.</summary>
    public string ToText(int top = 10)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"ContentFilter report: {Messages} messages, {Fmt(First)} .. {Fmt(Last)}");
        sb.AppendLine();
        Section(sb, "Messages by verdict", _verdicts, int.MaxValue);
        Section(sb, "Messages by listener", _listeners, int.MaxValue);
        Section(sb, "Top viruses", _viruses, top);
        Section(sb, "Top banned attachments", _banned, top);
        sb.AppendLine("Top spam senders (SPAM, SPAMMY)");
        if (_spamSenders.Count == 0)
        {
            sb.AppendLine("  none");
        }
        foreach (var (sender, scores) in _spamSenders.OrderByDescending(kv => kv.Value.Count).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(top))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {scores.Count,7}  avg {scores.Average(),7:0.00}  max {scores.Max(),8:0.00}  <{sender}>");
        }
        sb.AppendLine();
        sb.AppendLine("Spam scores");
        sb.AppendLine(_scores.Count == 0 ? "  none scored" : string.Create(CultureInfo.InvariantCulture, $"  scored {_scores.Count}, p50 {Percentile(_scores, 50):0.00}, p90 {Percentile(_scores, 90):0.00}, max {_scores.Max():0.00}"));
        sb.AppendLine();
        Section(sb, "Greylisting", _greylist, int.MaxValue);
        sb.AppendLine(CultureInfo.InvariantCulture, $"Quarantined: {Quarantined}");
        sb.AppendLine();
        Section(sb, "Temporary failures by reason", _tempFailReasons, top);
        sb.AppendLine("Latency per stage (ms)        count      p50      p90      p99      max");
        foreach (var (stage, values) in _stages.OrderBy(kv => kv.Key == "total" ? 1 : 0).ThenBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {stage,-24} {values.Count,7} {Percentile(values, 50),8:0.0} {Percentile(values, 90),8:0.0} {Percentile(values, 99),8:0.0} {values.Max(),8:0.0}");
        }
        if (Skipped > 0)
        {
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"({Skipped} lines were not audit records)");
        }
        return sb.ToString();
    }

    /// <summary>The report as JSON, for machines.</summary>
    public string ToJson(int top = 10)
    {
        var root = new JsonObject
        {
            ["messages"] = Messages,
            ["first"] = First?.ToString("o", CultureInfo.InvariantCulture),
            ["last"] = Last?.ToString("o", CultureInfo.InvariantCulture),
            ["verdicts"] = Obj(_verdicts, int.MaxValue),
            ["listeners"] = Obj(_listeners, int.MaxValue),
            ["viruses"] = Obj(_viruses, top),
            ["banned"] = Obj(_banned, top),
            ["spamSenders"] = new JsonArray(_spamSenders.OrderByDescending(kv => kv.Value.Count).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(top)
                .Select(kv => (JsonNode)new JsonObject { ["sender"] = kv.Key, ["count"] = kv.Value.Count, ["avgScore"] = Math.Round(kv.Value.Average(), 2), ["maxScore"] = kv.Value.Max() }).ToArray()),
            ["greylist"] = Obj(_greylist, int.MaxValue),
            ["quarantined"] = Quarantined,
            ["tempFailures"] = Obj(_tempFailReasons, top),
            ["stages"] = new JsonObject(_stages.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)new JsonObject
            {
                ["count"] = kv.Value.Count,
                ["p50"] = Percentile(kv.Value, 50),
                ["p90"] = Percentile(kv.Value, 90),
                ["p99"] = Percentile(kv.Value, 99),
                ["max"] = kv.Value.Max(),
            }))),
            ["skippedLines"] = Skipped,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Nearest-rank percentile.</summary>
    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return 0;
        }
        var sorted = values.Order().ToList();
        int rank = (int)Math.Ceiling(p / 100.0 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    private static void Section(StringBuilder sb, string title, Dictionary<string, int> counts, int top)
    {
        sb.AppendLine(title);
        if (counts.Count == 0)
        {
            sb.AppendLine("  none");
        }
        foreach (var (key, count) in counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(top))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {count,7}  {key}");
        }
        sb.AppendLine();
    }

    private static JsonObject Obj(Dictionary<string, int> counts, int top) =>
        new(counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(top).Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));

    private static IEnumerable<string> Names(string category)
    {
        int open = category.IndexOf('(');
        int close = category.LastIndexOf(')');
        if (open < 0 || close <= open)
        {
            return Array.Empty<string>();
        }
        return category[(open + 1)..close].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
    }

    private static void Bump(Dictionary<string, int> d, string key) => d[key] = d.GetValueOrDefault(key) + 1;

    private static string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    private static DateTimeOffset? ParseTime(JsonNode? n) =>
        Str(n) is string s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset t) ? t : null;

    private static string Fmt(DateTimeOffset? t) => t?.ToString("yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture) ?? "-";
}
