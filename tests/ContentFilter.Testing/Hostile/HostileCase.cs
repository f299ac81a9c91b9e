using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ContentFilter.Testing.Hostile;

/// <summary>One file of the hostile-input corpus (<c>testdata/hostile/&lt;door&gt;/&lt;name&gt;.json</c>): what to send and what must happen.</summary>
/// <remarks>The format is described in <c>testdata/hostile/README.md</c>. Small inputs are stored as bytes (a <c>.bin</c>
/// file named by <c>input</c>, or <c>text</c> with JSON escapes); huge ones are generated from a <c>recipe</c>
/// (<see cref="HostileRecipes"/>), so the repository holds kilobytes, not the megabytes a bomb needs.</remarks>
public sealed class HostileCase
{
    private readonly JsonObject _spec;

    private HostileCase(string door, string name, string file, JsonObject spec)
    {
        Door = door;
        Name = name;
        File = file;
        _spec = spec;
    }

    /// <summary>The folder: smtp, mime, policy, scanner-replies, milter.</summary>
    public string Door { get; }

    /// <summary>The file name without extension.</summary>
    public string Name { get; }

    /// <summary>The case file's path.</summary>
    public string File { get; }

    /// <summary>What the case is about.</summary>
    public string Description => Str("description") ?? Name;

    /// <summary>SMTP: where the payload goes, <c>greeting</c> (right after 220) or <c>data</c> (after EHLO, MAIL, RCPT and 354). Default <c>data</c>.</summary>
    public string At => Str("at") ?? "data";

    /// <summary>The replies that must follow the payload, in order: an exact code (<c>"421"</c>) or a class (<c>"5xx"</c>).
    /// Empty for doors that answer hostile input with silence.</summary>
    public IReadOnlyList<string> Expect => _spec["expect"] is JsonArray a ? a.Select(n => n!.GetValue<string>()).ToList() : [];

    /// <summary>After the expected replies: <c>closed</c> (the door hung up), <c>open</c> (it still answers NOOP), or
    /// <c>hangup</c> (the client disconnects right after its payload). Default <c>open</c>.</summary>
    public string Then => Str("then") ?? "open";

    /// <summary>How many messages the next hop must receive from this case, or null when not checked.</summary>
    public int? Delivered => _spec["delivered"] is JsonNode n ? n.GetValue<int>() : null;

    /// <summary>Text each delivered message must contain (the sink's view: CRs dropped).</summary>
    public string? DeliveredContains => Str("deliveredContains");

    /// <summary>How many audit records the case itself must leave (the clean message after it not counted), or null.</summary>
    public int? AuditRecords => _spec["auditRecords"] is JsonNode n ? n.GetValue<int>() : null;

    /// <summary>Text the service's log must contain after the case, or null.</summary>
    public string? LogContains => Str("log");

    /// <summary>Which fake scanner serves <see cref="Payload"/> (scanner-replies): <c>clamd</c> or <c>spamd</c>.</summary>
    public string? Scanner => Str("scanner");

    /// <summary>True when the fake scanner never answers (no payload).</summary>
    public bool NeverAnswers => _spec["never"]?.GetValue<bool>() == true;

    /// <summary>Bound on the whole case, seconds: the outcome must come within it. Default 30.</summary>
    public double MaxSeconds => _spec["maxSeconds"]?.GetValue<double>() ?? 30;

    /// <summary>Bound on the service's resident memory while the case runs, MiB, or null.</summary>
    public int? MaxRssMiB => _spec["maxRssMiB"] is JsonNode n ? n.GetValue<int>() : null;

    /// <summary>Bound on how far the service's resident memory may rise above where it was when the case began, MiB, or null.</summary>
    public int? MaxRssGrowthMiB => _spec["maxRssGrowthMiB"] is JsonNode n ? n.GetValue<int>() : null;

    /// <summary>Milliseconds between bytes (or chunks) for a slow client, or null to send at once.</summary>
    public int? IntervalMs => _spec["recipe"]?["intervalMs"] is JsonNode n ? n.GetValue<int>() : null;

    /// <summary>True when the recipe never ends (the client sends chunks until the door hangs up).</summary>
    public bool Endless => _spec["recipe"]?["kind"]?.GetValue<string>() == "endless";

    /// <summary>True when the payload is a whole message to be dot-stuffed and terminated (the mime corpus), false for raw bytes.</summary>
    public bool IsMessage => Door == "mime";

    /// <summary>The bytes: the stored file, the text, or the recipe's output (for an endless recipe: one chunk).</summary>
    public byte[] Payload()
    {
        if (Str("input") is string input)
        {
            return System.IO.File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(File)!, input));
        }
        if (Str("text") is string text)
        {
            return Encoding.Latin1.GetBytes(text);
        }
        if (_spec["recipe"] is JsonObject recipe)
        {
            return HostileRecipes.Generate(recipe);
        }
        return [];
    }

    /// <summary>True when a reply code matches one <see cref="Expect"/> entry.</summary>
    public static bool Matches(string expected, int code) =>
        expected.EndsWith("xx", StringComparison.Ordinal)
            ? code / 100 == expected[0] - '0'
            : code == int.Parse(expected, CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => Door + "/" + Name;

    /// <summary>Reads one case file.</summary>
    public static HostileCase Load(string file)
    {
        string door = Path.GetFileName(Path.GetDirectoryName(file)!);
        JsonObject spec = JsonNode.Parse(System.IO.File.ReadAllText(file), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!.AsObject();
        return new HostileCase(door, Path.GetFileNameWithoutExtension(file), file, spec);
    }

    private string? Str(string key) => _spec[key]?.GetValue<string>();
}
