using System.Buffers;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Frontends.Delivery;

/// <summary>A write-only stream that dot-stuffs what <see cref="Pipeline.Messages.OutgoingMessage.WriteAsync"/> writes and sends it.</summary>
/// <remarks>
/// Stuffed bytes collect in the connection's reused buffer and go out once at least <see cref="SendThreshold"/> bytes
/// are waiting, and at the end together with the terminator: a small message leaves in one write (one segment for
/// the next hop to wake up for) instead of three (added headers, body, end of data). Memory stays bounded by the
/// threshold plus 1.5 × one chunk.
/// </remarks>
internal sealed class DotStuffingStream : Stream
{
    private readonly NextHopConnection _connection;
    private readonly TimeSpan _writeTimeout;
    private readonly SmtpDotStuffer _stuffer = new();
    private readonly ArrayBufferWriter<byte> _buffer;

    /// <summary>Bytes collected before they are sent.</summary>
    public const int SendThreshold = 64 * 1024;

    public DotStuffingStream(NextHopConnection connection, TimeSpan writeTimeout)
    {
        _connection = connection;
        _buffer = connection.StuffingBuffer;
        _buffer.ResetWrittenCount();
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
        _stuffer.Write(buffer.Span, _buffer);
        if (_buffer.WrittenCount >= SendThreshold)
        {
            await SendAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Sends what is still buffered followed by the end of data (<c>CRLF.CRLF</c> or <c>.CRLF</c>).</summary>
    public async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        _stuffer.Complete(_buffer);
        await SendAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SendAsync(CancellationToken cancellationToken)
    {
        await _connection.WriteAsync(_buffer.WrittenMemory, _writeTimeout, cancellationToken).ConfigureAwait(false);
        _buffer.ResetWrittenCount();
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
