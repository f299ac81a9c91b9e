using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ContentFilter.Host.Logging;

/// <summary>Appends audit records as JSON lines (CLEF-shaped: <c>@t</c>, <c>@mt</c>, the line, the record).</summary>
/// <remarks>
/// Each record is one <c>write(2)</c> to a file opened with O_APPEND, so the service and the command-line tools
/// (a quarantine release is audited too) can append to the same file at once without a cross-process lock, and a
/// file renamed by logrotate is left alone: the next record creates the new file. Cheaper per message than a
/// shared Serilog file sink (named mutex and seek per event), which the benchmark showed in the hot path.
/// </remarks>
public sealed class AuditFile(string path)
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Appends one event with the record under <paramref name="property"/>.</summary>
    public void Append(DateTimeOffset time, string line, string property, object record)
    {
        var ev = new JsonObject
        {
            ["@t"] = time.UtcDateTime.ToString("O"),
            ["@mt"] = "{AuditLine:l} {@" + property + "}",
            ["AuditLine"] = line,
            [property] = JsonSerializer.SerializeToNode(record, record.GetType(), Options),
        };
        byte[] bytes = Encoding.UTF8.GetBytes(ev.ToJsonString(Options) + "\n");
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Append,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
        });
        stream.Write(bytes);
    }
}
