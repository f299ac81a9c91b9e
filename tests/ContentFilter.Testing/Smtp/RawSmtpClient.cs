using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ContentFilter.Testing.Smtp;

/// <summary>
/// An SMTP client for tests that writes exactly the bytes it is given and reads replies as they come.
/// </summary>
/// <remarks>
/// swaks adds a line ending to <c>--data</c> files that already end in one, and MailKit re-serialises: neither can
/// prove "bytes are sacred" or send the malformed sequences a smuggling test needs. This client adds nothing it is
/// not asked to: <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> is raw, and
/// <see cref="DataAsync(Stream, CancellationToken)"/> only dot-stuffs (RFC 5321 §4.5.2) and appends the terminator.
/// Pipelining is simply writing several commands before reading their replies.
/// </remarks>
public sealed class RawSmtpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly byte[] _readBuffer = new byte[16 * 1024];
    private int _readStart;
    private int _readEnd;

    private RawSmtpClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>How long a reply may take before <see cref="TimeoutException"/>. Default 120 s (a filter's final reply can wait for its next hop).</summary>
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>Every reply read so far, in order (for assertion messages).</summary>
    public List<SmtpReply> Transcript { get; } = new();

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> and reads the greeting.</summary>
    public static Task<(RawSmtpClient Client, SmtpReply Greeting)> ConnectAsync(int port, CancellationToken cancellationToken = default) =>
        ConnectAsync(port, localAddress: null, cancellationToken);

    /// <summary>Connects to 127.0.0.1:<paramref name="port"/> from <paramref name="localAddress"/> (any 127.x.y.z on Linux's loopback) and reads the greeting.</summary>
    /// <remarks>The server sees <paramref name="localAddress"/> as the client address, so a test can be a client whose reverse DNS it publishes.</remarks>
    public static async Task<(RawSmtpClient Client, SmtpReply Greeting)> ConnectAsync(int port, IPAddress? localAddress, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (localAddress is not null)
            {
                socket.Bind(new IPEndPoint(localAddress, 0));
            }
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(30));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var client = new RawSmtpClient(socket);
        SmtpReply greeting = await client.ReadReplyAsync(cancellationToken);
        return (client, greeting);
    }

    /// <summary>Writes the bytes as they are.</summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        await _stream.WriteAsync(bytes, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
    }

    /// <summary>Writes the UTF-8 bytes of <paramref name="text"/> as they are (no line ending is added).</summary>
    public Task WriteAsync(string text, CancellationToken cancellationToken = default) =>
        WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);

    /// <summary>Writes <paramref name="line"/> + CRLF and reads the reply.</summary>
    public async Task<SmtpReply> CommandAsync(string line, CancellationToken cancellationToken = default)
    {
        await WriteAsync(line + "\r\n", cancellationToken);
        return await ReadReplyAsync(cancellationToken);
    }

    /// <summary>Reads one whole reply (continuation lines included).</summary>
    /// <exception cref="EndOfStreamException">The server closed the connection first.</exception>
    public async Task<SmtpReply> ReadReplyAsync(CancellationToken cancellationToken = default) =>
        await TryReadReplyAsync(cancellationToken) ?? throw new EndOfStreamException("the server closed the connection instead of replying; so far: " + string.Join(" | ", Transcript));

    /// <summary>Reads one whole reply, or null when the server closed the connection (or reset it) first.</summary>
    public async Task<SmtpReply?> TryReadReplyAsync(CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(ReplyTimeout);
        var lines = new List<string>();
        int code = 0;
        while (true)
        {
            string? line;
            try
            {
                line = await ReadLineAsync(cts.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"no reply within {ReplyTimeout.TotalSeconds:0} s; so far: " + string.Join(" | ", Transcript));
            }
            catch (IOException)
            {
                line = null;
            }
            if (line is null)
            {
                return null;
            }
            if (line.Length < 3 || !int.TryParse(line.AsSpan(0, 3), NumberStyles.None, CultureInfo.InvariantCulture, out code))
            {
                throw new InvalidDataException($"not an SMTP reply line: '{line}'");
            }
            lines.Add(line.Length > 4 ? line[4..] : string.Empty);
            if (line.Length < 4 || line[3] != '-')
            {
                var reply = new SmtpReply(code, lines);
                Transcript.Add(reply);
                return reply;
            }
        }
    }

    /// <summary>EHLO; throws unless 250.</summary>
    public async Task<SmtpReply> EhloAsync(string name = "client.test", CancellationToken cancellationToken = default) =>
        Expect(await CommandAsync("EHLO " + name, cancellationToken), 250, "EHLO");

    /// <summary>
    /// One transaction after EHLO: MAIL, RCPT for each recipient, DATA, the dot-stuffed message and the final dot.
    /// Returns the reply to the final dot (whatever it is); throws when an earlier step is refused.
    /// </summary>
    /// <param name="mailParameters">ESMTP parameters for MAIL, e.g. <c>SMTPUTF8</c> or <c>BODY=8BITMIME</c>.</param>
    public async Task<SmtpReply> SendMailAsync(string from, IEnumerable<string> recipients, ReadOnlyMemory<byte> message, string? mailParameters = null, CancellationToken cancellationToken = default)
    {
        using var stream = new MemoryStream(message.ToArray(), writable: false);
        return await SendMailAsync(from, recipients, stream, mailParameters, cancellationToken);
    }

    /// <summary>As <see cref="SendMailAsync(string, IEnumerable{string}, ReadOnlyMemory{byte}, string, CancellationToken)"/>, streaming the message.</summary>
    public async Task<SmtpReply> SendMailAsync(string from, IEnumerable<string> recipients, Stream message, string? mailParameters = null, CancellationToken cancellationToken = default)
    {
        Expect(await CommandAsync($"MAIL FROM:<{from}>" + (mailParameters is null ? string.Empty : " " + mailParameters), cancellationToken), 250, "MAIL");
        foreach (string rcpt in recipients)
        {
            Expect(await CommandAsync($"RCPT TO:<{rcpt}>", cancellationToken), 250, "RCPT");
        }
        Expect(await CommandAsync("DATA", cancellationToken), 354, "DATA");
        return await DataAsync(message, cancellationToken);
    }

    /// <summary>After a 354: streams the message dot-stuffed, then <c>.CRLF</c>, and reads the final reply.</summary>
    /// <remarks>A message that does not end in CRLF gets one before the dot (RFC 5321 §4.1.1.4 requires it).</remarks>
    public async Task<SmtpReply> DataAsync(Stream message, CancellationToken cancellationToken = default)
    {
        await WriteDataAsync(message, bytesPerChunkPause: null, pause: TimeSpan.Zero, cancellationToken);
        return await ReadReplyAsync(cancellationToken);
    }

    /// <summary>
    /// After a 354: streams the message dot-stuffed with the terminator, pausing <paramref name="pause"/> after every
    /// <paramref name="bytesPerChunkPause"/> bytes (a slow client). Does not read the reply.
    /// </summary>
    public async Task WriteDataAsync(Stream message, int? bytesPerChunkPause, TimeSpan pause, CancellationToken cancellationToken = default)
    {
        byte[] input = ArrayPool<byte>.Shared.Rent(64 * 1024);
        byte[] output = ArrayPool<byte>.Shared.Rent(128 * 1024 + 8);
        try
        {
            var stuffer = new DotStuffer();
            long sinceLastPause = 0;
            int n;
            while ((n = await message.ReadAsync(input.AsMemory(0, 64 * 1024), cancellationToken)) > 0)
            {
                int written = stuffer.Stuff(input.AsSpan(0, n), output);
                await _stream.WriteAsync(output.AsMemory(0, written), cancellationToken);
                sinceLastPause += n;
                if (bytesPerChunkPause is int chunk && sinceLastPause >= chunk)
                {
                    sinceLastPause = 0;
                    await _stream.FlushAsync(cancellationToken);
                    await Task.Delay(pause, cancellationToken);
                }
            }
            int tail = stuffer.Finish(output);
            await _stream.WriteAsync(output.AsMemory(0, tail), cancellationToken);
            await _stream.FlushAsync(cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>The DATA transmission of <paramref name="message"/>: dot-stuffed, CRLF added if missing, then <c>.CRLF</c>.</summary>
    public static byte[] DotStuff(ReadOnlySpan<byte> message)
    {
        byte[] output = new byte[message.Length * 2 + 8];
        var stuffer = new DotStuffer();
        int n = stuffer.Stuff(message, output);
        n += stuffer.Finish(output.AsSpan(n));
        return output.AsSpan(0, n).ToArray();
    }

    /// <summary>QUIT (reply read if the server sends one) and close.</summary>
    public async Task QuitAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await WriteAsync("QUIT\r\n", cancellationToken);
            await TryReadReplyAsync(cancellationToken);
        }
        catch (IOException)
        {
        }
        catch (SocketException)
        {
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _stream.Dispose();
        return ValueTask.CompletedTask;
    }

    private static SmtpReply Expect(SmtpReply reply, int code, string step) =>
        reply.Code == code ? reply : throw new InvalidOperationException($"{step}: expected {code}, got {reply}");

    private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int lf = Array.IndexOf(_readBuffer, (byte)'\n', _readStart, _readEnd - _readStart);
            if (lf >= 0)
            {
                string line = Encoding.UTF8.GetString(_readBuffer, _readStart, lf - _readStart).TrimEnd('\r');
                _readStart = lf + 1;
                return line;
            }
            if (_readStart > 0)
            {
                Buffer.BlockCopy(_readBuffer, _readStart, _readBuffer, 0, _readEnd - _readStart);
                _readEnd -= _readStart;
                _readStart = 0;
            }
            if (_readEnd == _readBuffer.Length)
            {
                throw new InvalidDataException("reply line longer than 16 KiB");
            }
            int n = await _stream.ReadAsync(_readBuffer.AsMemory(_readEnd), cancellationToken);
            if (n == 0)
            {
                return null;
            }
            _readEnd += n;
        }
    }

    /// <summary>Streaming dot-stuffing: a line is what follows CRLF, so bare CR or LF never starts one.</summary>
    private sealed class DotStuffer
    {
        private byte _prev = (byte)'\n';
        private byte _prevPrev = (byte)'\r';
        private bool _any;

        public int Stuff(ReadOnlySpan<byte> input, Span<byte> output)
        {
            int o = 0;
            foreach (byte b in input)
            {
                if (b == (byte)'.' && _prevPrev == (byte)'\r' && _prev == (byte)'\n')
                {
                    output[o++] = (byte)'.';
                }
                output[o++] = b;
                _prevPrev = _prev;
                _prev = b;
                _any = true;
            }
            return o;
        }

        public int Finish(Span<byte> output)
        {
            int o = 0;
            if (_any && !(_prevPrev == (byte)'\r' && _prev == (byte)'\n'))
            {
                output[o++] = (byte)'\r';
                output[o++] = (byte)'\n';
            }
            output[o++] = (byte)'.';
            output[o++] = (byte)'\r';
            output[o++] = (byte)'\n';
            return o;
        }
    }
}
