using System.Text;
using ContentFilter.Host.Logging;
using Serilog.Events;
using Serilog.Formatting.Display;
using Serilog.Parsing;

namespace ContentFilter.Host.Tests.Logging;

public sealed class BatchingStreamSinkTests
{
    private static readonly MessageTemplateTextFormatter Formatter = new("{Level:u3} {Message:l}{NewLine}");

    private static LogEvent Event(string text, LogEventLevel level = LogEventLevel.Information)
        => new(DateTimeOffset.UtcNow, level, null, new MessageTemplateParser().Parse("{Text}"), [new LogEventProperty("Text", new ScalarValue(text))]);

    [Fact]
    public void ManyEventsFromSeveralThreads_EachLineOnceInOrderPerThread_InFewWrites()
    {
        var output = new RecordingStream();
        const int threads = 4, perThread = 500;
        using (var sink = new BatchingStreamSink(Formatter, output, delay: TimeSpan.FromMilliseconds(50)))
        {
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                for (int i = 0; i < perThread; i++)
                {
                    sink.Emit(Event($"t{t} n{i:0000} ünï"));
                }
            });
        }

        string[] lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(threads * perThread, lines.Length);
        for (int t = 0; t < threads; t++)
        {
            string[] mine = lines.Where(l => l.StartsWith($"INF t{t} ", StringComparison.Ordinal)).ToArray();
            Assert.Equal(Enumerable.Range(0, perThread).Select(i => $"INF t{t} n{i:0000} ünï"), mine);
        }
        // One write per batch, and a batch every 50 ms at most: far fewer writes than lines.
        Assert.InRange(output.Writes, 1, threads * perThread / 10);
    }

    [Fact]
    public void OutputStalled_EventsPastTheCapacityDropped_AndTheCountLoggedWithTheNextBatch()
    {
        var output = new RecordingStream { Gate = new ManualResetEventSlim(false) };
        using (var sink = new BatchingStreamSink(Formatter, output, capacity: 10, delay: TimeSpan.Zero))
        {
            sink.Emit(Event("first"));
            Assert.True(output.Blocked.Wait(TimeSpan.FromSeconds(10)), "the writer never wrote");
            for (int i = 0; i < 15; i++)
            {
                sink.Emit(Event($"queued {i}")); // the caller never waits for the stalled output
            }
            output.Gate.Set();
        }

        string[] lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("INF first", lines[0]);
        Assert.Equal("WRN ContentFilter.Logging: 5 log events dropped (the output was too slow)", lines[1]);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"INF queued {i}"), lines[2..]);
    }

    [Fact]
    public void FatalEvent_WrittenToTheErrorStreamAtOnce()
    {
        var output = new RecordingStream();
        var error = new RecordingStream();
        using var sink = new BatchingStreamSink(Formatter, output, errorOutput: error);

        sink.Emit(Event("stopped", LogEventLevel.Fatal));

        Assert.Equal("FTL stopped\n", error.Text);
        Assert.DoesNotContain("stopped", output.Text, StringComparison.Ordinal);
    }

    private sealed class RecordingStream : Stream
    {
        private readonly MemoryStream _bytes = new();

        public ManualResetEventSlim? Gate { get; init; }

        public ManualResetEventSlim Blocked { get; } = new(false);

        public int Writes { get; private set; }

        public string Text
        {
            get
            {
                lock (_bytes)
                {
                    return Encoding.UTF8.GetString(_bytes.ToArray());
                }
            }
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            lock (_bytes)
            {
                _bytes.Write(buffer, offset, count);
                Writes++;
            }
            Blocked.Set();
            Gate?.Wait();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
