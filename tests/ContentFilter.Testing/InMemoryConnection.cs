using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using ContentFilter.Frontends.Transport;

namespace ContentFilter.Testing;

/// <summary>A connection whose other end is the test: write what a client sends, read what the server answers.</summary>
public sealed class InMemoryConnection : IAsyncDisposable
{
    private readonly Pipe _toServer = new();
    private readonly Pipe _toClient = new();

    /// <summary>Creates the pair with a fake remote end point.</summary>
    public InMemoryConnection(string listenerName = "test", EndPoint? remote = null, CancellationToken stopping = default)
    {
        Context = new ConnectionContext(
            Guid.NewGuid().ToString("N")[..8],
            new DuplexPipe(_toServer.Reader, _toClient.Writer),
            remote ?? new IPEndPoint(IPAddress.Loopback, 40000),
            new IPEndPoint(IPAddress.Loopback, 10024),
            listenerName,
            stopping);
    }

    /// <summary>The server's side.</summary>
    public ConnectionContext Context { get; }

    /// <summary>What the client writes.</summary>
    public PipeWriter ClientOutput => _toServer.Writer;

    /// <summary>What the client reads.</summary>
    public PipeReader ClientInput => _toClient.Reader;

    /// <summary>Sends raw bytes as the client.</summary>
    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        await _toServer.Writer.WriteAsync(bytes);
    }

    /// <summary>Sends text as the client (ASCII/UTF-8, no line ending added).</summary>
    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    /// <summary>Closes the client's sending side (EOF for the server).</summary>
    public Task CompleteClientAsync() => _toServer.Writer.CompleteAsync().AsTask();

    /// <summary>Reads one CRLF-terminated line the server wrote, without the CRLF; null at EOF.</summary>
    public async Task<string?> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ReadResult result = await _toClient.Reader.ReadAsync(cancellationToken);
            System.Buffers.ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition? lf = buffer.PositionOf((byte)'\n');
            if (lf is not null)
            {
                System.Buffers.ReadOnlySequence<byte> line = buffer.Slice(0, lf.Value);
                string text = Encoding.UTF8.GetString(line).TrimEnd('\r');
                _toClient.Reader.AdvanceTo(buffer.GetPosition(1, lf.Value));
                return text;
            }
            if (result.IsCompleted)
            {
                _toClient.Reader.AdvanceTo(buffer.End);
                return null;
            }
            _toClient.Reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads one whole SMTP reply (all <c>ddd-</c> lines and the final <c>ddd </c> line).</summary>
    public async Task<IReadOnlyList<string>> ReadReplyAsync(CancellationToken cancellationToken = default)
    {
        var lines = new List<string>();
        while (true)
        {
            string? line = await ReadLineAsync(cancellationToken) ?? throw new EndOfStreamException("server closed the connection");
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
            {
                return lines;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _toServer.Writer.CompleteAsync();
        await _toClient.Reader.CompleteAsync();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
