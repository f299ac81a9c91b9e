using System.Collections.Concurrent;
using System.Text;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace ContentFilter.Host.Logging;

/// <summary>
/// Writes log events to a stream (stdout, which systemd's journal reads) from one background thread, a batch at a
/// time: the events queued since its last write are formatted together and written with one <c>write(2)</c>.
/// </summary>
/// <remarks>
/// <para>Serilog's async wrapper wakes its thread for every event and, idle again, spins before it sleeps; with a
/// line per greylisting decision (thousands a second) that was a good share of the policy server's CPU. Here the
/// caller only enqueues; the writer (<see cref="BatchWriterThread"/>) sleeps the batch delay (5 ms by default)
/// after each write, so under load it wakes a couple of hundred times a second whatever the rate, and at rest a
/// line appears within that delay.</para>
/// <para>Like the async wrapper, a slow reader never stalls the caller: past <c>capacity</c> queued events new ones
/// are dropped and counted, and the count is logged with the next batch. Disposing writes what is queued.</para>
/// </remarks>
public sealed class BatchingStreamSink : ILogEventSink, IDisposable
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly ITextFormatter _formatter;
    private readonly Stream _output;
    private readonly int _capacity;
    private readonly ConcurrentQueue<LogEvent> _queue = new();
    private readonly BatchWriterThread _writer;
    private readonly StringWriter _text = new(System.Globalization.CultureInfo.InvariantCulture);
    private readonly Encoder _encoder = Utf8.GetEncoder();
    private readonly Stream? _errorOutput;
    private readonly LogEventLevel _errorFromLevel;
    private byte[] _bytes = new byte[16 * 1024];
    private int _queued;
    private long _dropped;

    /// <summary>Starts the writer thread.</summary>
    /// <param name="formatter">Formats one event (with its line end).</param>
    /// <param name="output">Where the batches go; not disposed.</param>
    /// <param name="capacity">Events queued at most; more are dropped and counted.</param>
    /// <param name="delay">Pause after each batch (default <see cref="BatchWriterThread.DefaultDelay"/>, 5 ms).</param>
    /// <param name="errorOutput">Where events from <paramref name="errorFromLevel"/> up go instead, written at once by the caller (stderr); null = none.</param>
    /// <param name="errorFromLevel">See <paramref name="errorOutput"/>.</param>
    public BatchingStreamSink(ITextFormatter formatter, Stream output, int capacity = 10_000, TimeSpan? delay = null, Stream? errorOutput = null, LogEventLevel errorFromLevel = LogEventLevel.Fatal)
    {
        _formatter = formatter;
        _output = output;
        _errorOutput = errorOutput;
        _errorFromLevel = errorFromLevel;
        _capacity = capacity;
        _writer = new BatchWriterThread("log writer", delay ?? BatchWriterThread.DefaultDelay, WriteQueued, startNow: true);
    }

    /// <inheritdoc />
    public void Emit(LogEvent logEvent)
    {
        if (_errorOutput is not null && logEvent.Level >= _errorFromLevel)
        {
            WriteError(logEvent, _errorOutput);
            return;
        }
        if (Interlocked.Increment(ref _queued) > _capacity)
        {
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _dropped);
            return;
        }
        _queue.Enqueue(logEvent);
        _writer.Signal();
    }

    /// <summary>Writes what is queued and stops the writer.</summary>
    public void Dispose() => _writer.Dispose();

    private void WriteError(LogEvent logEvent, Stream error)
    {
        try
        {
            var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
            _formatter.Format(logEvent, text);
            byte[] bytes = Utf8.GetBytes(text.ToString());
            lock (error)
            {
                error.Write(bytes);
                error.Flush();
            }
        }
        catch (Exception ex)
        {
            Serilog.Debugging.SelfLog.WriteLine("log event not written: {0}", ex);
        }
    }

    private void WriteQueued()
    {
        StringBuilder builder = _text.GetStringBuilder();
        builder.Clear();
        long dropped = Interlocked.Exchange(ref _dropped, 0);
        if (dropped > 0)
        {
            builder.Append("WRN ContentFilter.Logging: ").Append(dropped).Append(" log events dropped (the output was too slow)").Append('\n');
        }
        while (_queue.TryDequeue(out LogEvent? logEvent))
        {
            Interlocked.Decrement(ref _queued);
            try
            {
                _formatter.Format(logEvent, _text);
            }
            catch (Exception ex)
            {
                Serilog.Debugging.SelfLog.WriteLine("log event not formatted: {0}", ex);
            }
            if (builder.Length > 64 * 1024)
            {
                Flush(builder);
            }
        }
        Flush(builder);
    }

    private void Flush(StringBuilder builder)
    {
        if (builder.Length == 0)
        {
            return;
        }
        try
        {
            int max = Utf8.GetMaxByteCount(builder.Length);
            if (_bytes.Length < max)
            {
                _bytes = new byte[max];
            }
            int n = 0;
            foreach (ReadOnlyMemory<char> chunk in builder.GetChunks())
            {
                n += _encoder.GetBytes(chunk.Span, _bytes.AsSpan(n), flush: false);
            }
            n += _encoder.GetBytes([], _bytes.AsSpan(n), flush: true);
            _output.Write(_bytes, 0, n);
            _output.Flush();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            Serilog.Debugging.SelfLog.WriteLine("log output failed: {0}", ex);
        }
        builder.Clear();
    }
}
