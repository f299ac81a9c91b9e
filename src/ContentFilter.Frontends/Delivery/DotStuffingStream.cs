using System.Buffers;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Frontends.Delivery;

/// <summary>A write-only stream that dot-stuffs what <see cref="Pipeline.Messages.OutgoingMessage.WriteAsync"/> writes and sends it.</summary>
/// <remarks>Memory stays bounded: each chunk is stuffed into the connection's reused buffer (at most 1.5 × the chunk) and sent at once.</remarks>
internal sealed class DotStuffingStream : Stream
{
    private readonly NextHopConnection _connection;
    private readonly TimeSpan _writeTimeout;
    private readonly SmtpDotStuffer _stuffer = new();
    private readonly ArrayBufferWriter<byte> _buffer;

    public DotStuffingStream(NextHopConnection connection, TimeSpan writeTimeout)
    {
        _connection = connection;
        _buffer = connection.StuffingBuffer;
        _writeTimeout = writeTimeout;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _stuffer.MessageLength;
        set => throw new NotSupportedException();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _buffer.ResetWrittenCount();
        _stuffer.Write(buffer.Span, _buffer);
        await _connection.WriteAsync(_buffer.WrittenMemory, _writeTimeout, cancellationToken).ConfigureAwait(false);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Writes the end of data (<c>CRLF.CRLF</c> or <c>.CRLF</c>).</summary>
    public async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        _buffer.ResetWrittenCount();
        _stuffer.Complete(_buffer);
        await _connection.WriteAsync(_buffer.WrittenMemory, _writeTimeout, cancellationToken).ConfigureAwait(false);
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Use WriteAsync.");

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
