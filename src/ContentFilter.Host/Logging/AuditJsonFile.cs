using System.Buffers;
using System.Collections.Concurrent;
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

    // Greylist decisions queued for the writer thread (Enqueue): a policy server answers thousands a second, and a
    // write(2) each was a good share of its CPU.
    private readonly ConcurrentQueue<(DateTime Time, string Line, GreylistAuditRecord Record)> _queue = new();
    private readonly object _drainGate = new();
    private readonly ArrayBufferWriter<byte> _batch = new(16 * 1024);
    private readonly Action<Exception>? _onQueuedWriteError;
    private readonly BatchWriterThread _writer;
    private int _queued;

    /// <summary>Opens (creating it 0640 if needed) <paramref name="path"/> for appending.</summary>
    /// <exception cref="IOException">The file cannot be opened; the message names it and the reason.</exception>
    /// <param name="path">The file.</param>
    /// <param name="onQueuedWriteError">Told when the writer thread cannot write queued records (<see cref="Enqueue"/>).</param>
    public AuditJsonFile(string path, Action<Exception>? onQueuedWriteError = null)
    {
        Path = path;
        _onQueuedWriteError = onQueuedWriteError;
        int fd = Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0b110_100_000);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{path}: cannot open for appending: {new Win32Exception(errno).Message}");
        }
        _handle = new SafeFileHandle(fd, ownsHandle: true);
        // Started by the first Enqueue: a file that only gets Append has no thread.
        _writer = new BatchWriterThread("audit writer", BatchWriterThread.DefaultDelay, WriteQueuedOnWriter, startNow: false);
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Appends the record of one message.</summary>
    public void Append(string auditLine, AuditRecord record) =>
        Append("{AuditLine:l} {@Audit}", "AuditLine", auditLine, "Audit", record, AuditJsonContext.Default.AuditRecord);

    /// <summary>Appends one greylist decision.</summary>
    public void Append(string greylistLine, GreylistAuditRecord record) =>
        Append("{GreylistLine:l} {@Greylist}", "GreylistLine", greylistLine, "Greylist", record, AuditJsonContext.Default.GreylistAuditRecord);

    /// <summary>Queues one greylist decision; a writer thread appends the queued ones together, with one <c>write(2)</c>.</summary>
    /// <remarks>
    /// <para>The writer (<see cref="BatchWriterThread"/>, started by the first call) sleeps 5 ms after each write,
    /// so under load it writes a couple of hundred times a second whatever the rate, and at rest a record reaches
    /// the file within that delay. The time stamp (<c>@t</c>) is the moment of the call. <see cref="Dispose"/>
    /// writes what is queued.</para>
    /// <para>Nothing is dropped: past <see cref="QueueCapacity"/> queued records the caller writes the queue itself
    /// (which keeps each caller's records in order and the memory bounded). Records are whole lines, each batch
    /// is appended at once, so the quarantine CLI's appends still never interleave with them.</para>
    /// </remarks>
    public void Enqueue(string greylistLine, GreylistAuditRecord record)
    {
        if (_writer.IsStopping)
        {
            Append(greylistLine, record);
            return;
        }
        _queue.Enqueue((DateTimeOffset.UtcNow.UtcDateTime, greylistLine, record));
        if (Interlocked.Increment(ref _queued) > QueueCapacity)
        {
            WriteQueued();
            return;
        }
        _writer.Signal();
    }

    /// <summary>Records queued at most before a caller writes the queue itself.</summary>
    public const int QueueCapacity = 10_000;

    /// <summary>The writer thread's batch: <see cref="WriteQueued"/>, its failures reported.</summary>
    private void WriteQueuedOnWriter()
    {
        try
        {
            WriteQueued();
        }
        catch (Exception ex)
        {
            // Whatever it is (a full disk, a record that will not serialise), a failed audit write must not
            // end this thread: an exception escaping it would end the whole service.
            _onQueuedWriteError?.Invoke(ex);
        }
    }

    /// <summary>Appends every queued record, in queue order, a batch of up to 64 KiB per <c>write(2)</c>.</summary>
    private void WriteQueued()
    {
        lock (_drainGate)
        {
            _batch.ResetWrittenCount();
            using var json = new Utf8JsonWriter(_batch, WriterOptions);
            while (_queue.TryDequeue(out (DateTime Time, string Line, GreylistAuditRecord Record) item))
            {
                Interlocked.Decrement(ref _queued);
                WriteEvent(json, item.Time, "{GreylistLine:l} {@Greylist}", "GreylistLine", item.Line, "Greylist", item.Record, AuditJsonContext.Default.GreylistAuditRecord);
                json.Flush();
                json.Reset();
                _batch.Write("\n"u8);
                if (_batch.WrittenCount > 64 * 1024)
                {
                    WriteAll(_batch.WrittenSpan);
                    _batch.ResetWrittenCount();
                }
            }
            if (_batch.WrittenCount > 0)
            {
                WriteAll(_batch.WrittenSpan);
                _batch.ResetWrittenCount();
            }
        }
    }

    private static void WriteEvent<T>(Utf8JsonWriter json, DateTime time, string template, string lineName, string line, string recordName, T record, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        json.WriteStartObject();
        json.WriteString("@t", time);
        json.WriteString("@mt", template);
        json.WriteString(lineName, line);
        json.WritePropertyName(recordName);
        JsonSerializer.Serialize(json, record, typeInfo);
        json.WriteEndObject();
    }

    private void Append<T>(string template, string lineName, string line, string recordName, T record, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteEvent(json, DateTimeOffset.UtcNow.UtcDateTime, template, lineName, line, recordName, record, typeInfo);
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

    /// <summary>Writes what is queued, stops the writer and closes the file.</summary>
    public void Dispose()
    {
        if (!_writer.IsStopping)
        {
            // The writer thread, if it started, writes what is queued and ends; this writes whatever is left (no
            // thread, a writer still stuck after the join's timeout, a record queued by an Enqueue racing this).
            _writer.Dispose();
            try
            {
                WriteQueued();
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                _onQueuedWriteError?.Invoke(ex);
            }
        }
        _handle.Dispose();
    }

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
