using System.Buffers;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using ContentFilter.Pipeline.Audit;
using Microsoft.Win32.SafeHandles;

namespace ContentFilter.Host.Logging;

/// <summary>
/// The JSON-lines audit file: one line per record, each appended with a single <c>write(2)</c> on a descriptor
/// opened with <c>O_APPEND</c>.
/// </summary>
/// <remarks>
/// <para>
/// The kernel positions every such write at the end of the file atomically, so the service and the quarantine CLI
/// (another process) can append to the same file without a lock and without overwriting each other's records, and
/// logrotate's <c>copytruncate</c> leaves no hole. .NET's <see cref="FileStream"/> cannot do this: it emulates
/// append mode with its own file position, which another writer invalidates.
/// </para>
/// <para>
/// Each line is a CLEF event (compact log event format: <c>@t</c>, <c>@mt</c>, properties), so tools that read
/// Serilog's compact JSON read it, and <c>contentfilter report</c> reads the <c>Audit</c> and <c>Greylist</c>
/// objects. Records are serialised by a source-generated <see cref="JsonSerializerContext"/>, no reflection.
/// </para>
/// </remarks>
public sealed partial class AuditJsonFile : IDisposable
{
    private const int O_WRONLY = 0x1;
    private const int O_CREAT = 0x40;
    private const int O_APPEND = 0x400;
    private const int O_CLOEXEC = 0x80000;
    private const int EINTR = 4;

    // glibc's soname: "libc" alone makes the runtime probe libc.so first, which is only libc6-dev's linker script.
    private const string Libc = "libc.so.6";

    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    private readonly SafeFileHandle _handle;

    /// <summary>Opens (creating it 0640 if needed) <paramref name="path"/> for appending.</summary>
    /// <exception cref="IOException">The file cannot be opened; the message names it and the reason.</exception>
    public AuditJsonFile(string path)
    {
        Path = path;
        int fd = Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0b110_100_000);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{path}: cannot open for appending: {new Win32Exception(errno).Message}");
        }
        _handle = new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Appends the record of one message.</summary>
    public void Append(string auditLine, AuditRecord record) =>
        Append("{AuditLine:l} {@Audit}", "AuditLine", auditLine, "Audit", record, AuditJsonContext.Default.AuditRecord);

    /// <summary>Appends one greylist decision.</summary>
    public void Append(string greylistLine, GreylistAuditRecord record) =>
        Append("{GreylistLine:l} {@Greylist}", "GreylistLine", greylistLine, "Greylist", record, AuditJsonContext.Default.GreylistAuditRecord);

    private void Append<T>(string template, string lineName, string line, string recordName, T record, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteString("@t", DateTimeOffset.UtcNow.UtcDateTime);
            json.WriteString("@mt", template);
            json.WriteString(lineName, line);
            json.WritePropertyName(recordName);
            JsonSerializer.Serialize(json, record, typeInfo);
            json.WriteEndObject();
        }
        buffer.Write("\n"u8);
        WriteAll(buffer.WrittenSpan);
    }

    private void WriteAll(ReadOnlySpan<byte> bytes)
    {
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            int fd = (int)_handle.DangerousGetHandle();
            while (!bytes.IsEmpty)
            {
                nint n = Write(fd, ref MemoryMarshal.GetReference(bytes), bytes.Length);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    throw new IOException($"{Path}: write failed: {new Win32Exception(errno).Message}");
                }
                // A regular file takes the whole line at once; a short write (disk full) leaves the rest to a retry.
                bytes = bytes[(int)n..];
            }
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();

    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, ref byte buffer, nint count);
}

/// <summary>Source-generated serialisation of the audit records (no reflection on the hot path).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AuditRecord))]
[JsonSerializable(typeof(GreylistAuditRecord))]
internal sealed partial class AuditJsonContext : JsonSerializerContext
{
}
