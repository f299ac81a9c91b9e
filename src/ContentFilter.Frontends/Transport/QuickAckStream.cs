using System.Net.Sockets;

namespace ContentFilter.Frontends.Transport;

/// <summary>A TCP stream that acknowledges every read at once (Linux <c>TCP_QUICKACK</c>, re-armed after each read).</summary>
/// <remarks>
/// For the milter door: Postfix writes some milter packets that get no reply (macros) and then the next command in a
/// second small write. With Nagle on Postfix's side that second write waits for our ACK of the first, and a delayed
/// ACK holds it for up to 40 ms: per message that was most of the time at one session. Acknowledging at once removes
/// the stall. The kernel leaves quick-ACK mode on its own, hence the option is set again after every read.
/// </remarks>
internal sealed class QuickAckStream(Socket socket, Stream inner) : Stream
{
    private const int IPPROTO_TCP = 6;
    private const int TCP_QUICKACK = 12;
    private static readonly byte[] On = BitConverter.GetBytes(1);

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n > 0)
        {
            QuickAck();
        }
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = inner.Read(buffer, offset, count);
        if (n > 0)
        {
            QuickAck();
        }
        return n;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }

    private void QuickAck()
    {
        try
        {
            socket.SetRawSocketOption(IPPROTO_TCP, TCP_QUICKACK, On);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Closed meanwhile, or a kernel without the option: the stream works the same, only slower.
        }
    }
}
