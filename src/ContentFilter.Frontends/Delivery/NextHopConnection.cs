using System.Buffers;
using System.Net;
using System.Net.Sockets;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Frontends.Delivery;

/// <summary>One SMTP connection to the next hop: framing, per-operation timeouts, liveness for the pool.</summary>
/// <remarks>Every network error, EOF, timeout or unreadable reply becomes a <see cref="NextHopTransportException"/>.</remarks>
internal sealed class NextHopConnection : IAsyncDisposable
{
    private const int MaxBuffer = 512 * 1024;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly TimeProvider _time;
    private readonly SmtpReplyReader _replyReader;
    private byte[] _buffer = new byte[4096];
    private int _start;
    private int _end;
    private bool _disposed;
    private ArrayBufferWriter<byte>? _stuffing;

    private NextHopConnection(Socket socket, TimeProvider time, SmtpReplyReader replyReader)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _time = time;
        _replyReader = replyReader;
    }

    /// <summary>
    /// The buffer message data is dot-stuffed into before it is sent: one per connection, reused by every message on
    /// it (a buffer per message would put ~100 KB per message on the large object heap and cost a gen2 GC every few
    /// messages). Grows to 1.5 × the copy chunk at most.
    /// </summary>
    public ArrayBufferWriter<byte> StuffingBuffer => _stuffing ??= new ArrayBufferWriter<byte>(16 * 1024);

    /// <summary>What the next hop offered in EHLO.</summary>
    public EhloCapabilities Capabilities { get; private set; } = EhloCapabilities.None;

    /// <summary>Transactions completed on this connection.</summary>
    public int Transactions { get; set; }

    /// <summary>When the connection went back to the pool (TimeProvider timestamp).</summary>
    public long IdleSince { get; set; }

    /// <summary>What we are doing, for failure texts (<c>MAIL FROM</c>, <c>end of data</c> ...).</summary>
    public string Phase { get; set; } = "connect";

    /// <summary>Connects, reads the greeting, and says EHLO (HELO if EHLO is refused with 5xx).</summary>
    public static async Task<NextHopConnection> OpenAsync(EndPoint endPoint, NextHopOptions options, TimeProvider time, SmtpReplyReader replyReader, CancellationToken cancellationToken)
    {
        Socket socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using (var timeout = new CancellationTokenSource(options.ConnectTimeout, time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token))
        {
            try
            {
                await socket.ConnectAsync(endPoint, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new NextHopTransportException(NextHopFailure.ConnectTimeout, $"no connection within {options.ConnectTimeout.TotalSeconds:0} s");
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                throw new NextHopTransportException(NextHopFailure.Refused, $"connection failed: {ex.SocketErrorCode}", ex);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        var connection = new NextHopConnection(socket, time, replyReader);
        try
        {
            connection.Phase = "greeting";
            SmtpReceivedReply greeting;
            try
            {
                greeting = await connection.ReadReplyAsync(options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (NextHopTransportException ex) when (ex.Failure == NextHopFailure.Timeout)
            {
                throw new NextHopTransportException(NextHopFailure.ConnectTimeout, $"no greeting within {options.ConnectTimeout.TotalSeconds:0} s");
            }
            if (greeting.Code != 220)
            {
                throw new NextHopTransportException(NextHopFailure.SessionRefused, $"greeting was {greeting}");
            }

            connection.Phase = "EHLO";
            await connection.WriteAsync(SmtpCommandBytes("EHLO " + options.HeloName), options.CommandTimeout, cancellationToken).ConfigureAwait(false);
            SmtpReceivedReply ehlo = await connection.ReadReplyAsync(options.CommandTimeout, cancellationToken).ConfigureAwait(false);
            if (ehlo.IsPositive)
            {
                connection.Capabilities = EhloCapabilities.Parse(ehlo);
            }
            else if (ehlo.Code is 500 or 502)
            {
                // RFC 5321 §3.2: a server that does not know EHLO gets HELO; then no extensions are used.
                connection.Phase = "HELO";
                await connection.WriteAsync(SmtpCommandBytes("HELO " + options.HeloName), options.CommandTimeout, cancellationToken).ConfigureAwait(false);
                SmtpReceivedReply helo = await connection.ReadReplyAsync(options.CommandTimeout, cancellationToken).ConfigureAwait(false);
                if (!helo.IsPositive)
                {
                    throw new NextHopTransportException(NextHopFailure.SessionRefused, $"HELO was answered {helo}");
                }
            }
            else
            {
                throw new NextHopTransportException(NextHopFailure.SessionRefused, $"EHLO was answered {ehlo}");
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A command line as bytes: UTF-8 text plus CRLF.</summary>
    public static byte[] SmtpCommandBytes(string line) => System.Text.Encoding.UTF8.GetBytes(line + "\r\n");

    /// <summary>
    /// True when the idle connection can still be used: nothing readable (a readable idle socket means EOF or an
    /// unsolicited reply such as Postfix's <c>421 4.4.2 Error: timeout exceeded</c> before it closes).
    /// </summary>
    public bool LooksAlive()
    {
        if (_disposed || _start != _end)
        {
            return false;
        }
        try
        {
            return _socket.Connected && !_socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Writes bytes, with a timeout.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            await _stream.WriteAsync(data, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NextHopTransportException(NextHopFailure.Timeout, $"timed out after {timeout.TotalSeconds:0} s writing {Phase}");
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            throw new NextHopTransportException(NextHopFailure.Closed, $"connection lost while writing {Phase}", ex);
        }
    }

    /// <summary>Reads one complete reply, with a timeout for the whole reply.</summary>
    public async ValueTask<SmtpReceivedReply> ReadReplyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        while (true)
        {
            if (TryParse(out SmtpReceivedReply? reply))
            {
                return reply!;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                if (_buffer.Length >= MaxBuffer)
                {
                    throw new NextHopTransportException(NextHopFailure.Garbage, $"reply to {Phase} too long");
                }
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            int n;
            try
            {
                n = await _stream.ReadAsync(_buffer.AsMemory(_end), linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new NextHopTransportException(NextHopFailure.Timeout, $"no reply to {Phase} within {timeout.TotalSeconds:0} s");
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                throw new NextHopTransportException(NextHopFailure.Closed, $"connection lost waiting for the reply to {Phase}", ex);
            }
            if (n == 0)
            {
                throw new NextHopTransportException(NextHopFailure.Closed, $"connection closed before the reply to {Phase}");
            }
            _end += n;
        }
    }

    private bool TryParse(out SmtpReceivedReply? reply)
    {
        reply = null;
        if (_start == _end)
        {
            return false;
        }
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_buffer, _start, _end - _start));
        if (_replyReader.TryRead(ref reader, out reply, out SmtpReplyReaderError error))
        {
            _start += (int)reader.Consumed;
            return true;
        }
        if (error != SmtpReplyReaderError.None)
        {
            throw new NextHopTransportException(NextHopFailure.Garbage, $"unreadable reply to {Phase} ({error})");
        }
        return false;
    }

    /// <summary>Sends QUIT without waiting long for the answer, then closes (used for idle connections).</summary>
    public async ValueTask QuitAsync()
    {
        try
        {
            await WriteAsync(SmtpCommandBytes("QUIT"), TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        }
        catch (NextHopTransportException)
        {
            // Closing anyway.
        }
        await DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
