using System.Buffers;
using System.Net.Sockets;
using ContentFilter.Checks.Antivirus;
using ContentFilter.Protocols.Spamd;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Spam;

/// <summary>Talks to spamd (SPAMC/1.5): streams a message with an exact <c>Content-length</c> and reads the verdict.</summary>
/// <remarks>
/// The body is streamed from the caller's stream in chunks; only the response is buffered (capped by
/// <see cref="SpamdLimits"/>). A non-zero sysexits code, a response without a <c>Spam:</c> header, garbage, a
/// timeout or a refused connection is a failure, and the next server is tried (round robin with failover).
/// </remarks>
public sealed partial class SpamdClient
{
    private readonly SpamAssassinOptions _options;
    private readonly ScannerRing _ring;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the client. An invalid address throws <see cref="FormatException"/>.</summary>
    public SpamdClient(SpamAssassinOptions options, TimeProvider time, ILogger<SpamdClient> logger)
    {
        _options = options;
        _ring = new ScannerRing(options.EffectiveServers.Select(s => ScannerEndpoint.Parse(s, 783)));
        _time = time;
        _logger = logger;
    }

    /// <summary>The configured servers.</summary>
    public IReadOnlyList<ScannerEndpoint> Servers => _ring.Servers;

    /// <summary>Scans <paramref name="prefix"/> followed by <paramref name="count"/> bytes of <paramref name="content"/>.</summary>
    /// <param name="content">The message, positioned at its start; seekable for failover.</param>
    /// <param name="count">Bytes of <paramref name="content"/> to send.</param>
    /// <param name="prefix">Bytes sent before the content (a pseudo header for a truncated message), or empty.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The outcome; never throws for scanner trouble.</returns>
    public async Task<SpamdScanOutcome> ScanAsync(Stream content, long count, ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken)
    {
        long start = content.CanSeek ? content.Position : -1;
        var failures = new List<string>();
        string? last = null;
        foreach (ScannerEndpoint server in _ring.NextOrder())
        {
            if (failures.Count > 0)
            {
                if (start < 0)
                {
                    break;
                }
                content.Position = start;
            }
            last = server.Display;
            string? failure;
            SpamdResponse? response = null;
            try
            {
                var request = new SpamdRequest(_options.Command, prefix.Length + count, string.IsNullOrEmpty(_options.User) ? null : _options.User);
                response = await ExchangeAsync(server, request, content, count, prefix, cancellationToken).ConfigureAwait(false);
                failure = response.IsOk
                    ? (response.Score is null ? "response without a Spam header" : null)
                    : $"spamd error {response.Code}: {response.Message}";
            }
            catch (SpamdException ex)
            {
                failure = ex.Message;
            }
            if (failure is null)
            {
                return new SpamdScanOutcome(response, server.Display, null);
            }
            Log.ServerFailed(_logger, server.Display, failure);
            failures.Add($"{server.Display}: {failure}");
        }
        return new SpamdScanOutcome(null, last, string.Join("; ", failures));
    }

    /// <summary>Sends <c>PING</c>; true when <paramref name="server"/> answers <c>PONG</c> with code 0.</summary>
    public async Task<bool> PingAsync(ScannerEndpoint server, CancellationToken cancellationToken)
    {
        try
        {
            SpamdResponse r = await ExchangeAsync(server, new SpamdRequest(SpamdCommand.Ping, null), null, 0, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            return r.IsOk && r.Message == "PONG";
        }
        catch (SpamdException)
        {
            return false;
        }
    }

    private async Task<SpamdResponse> ExchangeAsync(ScannerEndpoint server, SpamdRequest request, Stream? content, long count, ReadOnlyMemory<byte> prefix, CancellationToken cancellationToken)
    {
        Socket socket;
        try
        {
            socket = await server.ConnectAsync(_options.ConnectTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new SpamdException(ex.Message, ex);
        }
        catch (SocketException ex)
        {
            throw new SpamdException($"connect failed: {ex.SocketErrorCode} ({ex.Message})", ex);
        }

        await using var stream = new NetworkStream(socket, ownsSocket: true);
        using var deadline = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.ChunkSize);
        string? writeError = null;
        try
        {
            try
            {
                var head = new ArrayBufferWriter<byte>(128);
                SpamdRequestWriter.Write(request, head);
                head.Write(prefix.Span);
                await stream.WriteAsync(head.WrittenMemory, linked.Token).ConfigureAwait(false);
                long left = count;
                while (content is not null && left > 0)
                {
                    int n = await content.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), linked.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new SpamdException($"message ended {left} bytes early");
                    }
                    await stream.WriteAsync(buffer.AsMemory(0, n), linked.Token).ConfigureAwait(false);
                    left -= n;
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // spamd may have answered with an error and closed: read what it said.
                writeError = ex.Message;
            }
            return await ReadResponseAsync(stream, buffer, writeError, request.Command == SpamdCommand.Ping, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new SpamdException($"no reply within {_options.Timeout.TotalSeconds:0.###} s");
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            throw new SpamdException($"read failed: {ex.Message}", ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task<SpamdResponse> ReadResponseAsync(Stream stream, byte[] buffer, string? writeError, bool statusOnly, CancellationToken cancellationToken)
    {
        SpamdLimits limits = SpamdLimits.Default;
        int cap = limits.MaxBodyLength + (limits.MaxHeaders + 1) * limits.MaxLineLength;
        var received = new ArrayBufferWriter<byte>(4096);
        bool final = false;
        while (true)
        {
            if (!final)
            {
                int n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    final = true;
                }
                else
                {
                    if (received.WrittenCount + n > cap)
                    {
                        throw new SpamdException("response too long");
                    }
                    received.Write(buffer.AsSpan(0, n));
                }
            }
            if (statusOnly && received.WrittenSpan.IndexOf((byte)'\n') is int lf and >= 0)
            {
                // PONG is one status line; spamd keeps the connection open after it.
                string line = System.Text.Encoding.ASCII.GetString(received.WrittenSpan[..lf]).TrimEnd('\r');
                if (SpamdResponseReader.TryParseStatusLine(line, out string version, out int code, out string message))
                {
                    return new SpamdResponse { ProtocolVersion = version, Code = code, Message = message };
                }
                throw new SpamdException($"bad status line '{line[..Math.Min(80, line.Length)]}'");
            }
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(received.WrittenMemory));
            if (SpamdResponseReader.TryRead(ref reader, final, limits, out SpamdResponse response, out SpamdError error))
            {
                return response;
            }
            if (error != SpamdError.None)
            {
                if (received.WrittenCount == 0 && writeError is not null)
                {
                    throw new SpamdException($"write failed: {writeError}; no reply");
                }
                string shown = System.Text.Encoding.UTF8.GetString(received.WrittenSpan[..Math.Min(80, received.WrittenCount)]).ReplaceLineEndings(" ");
                throw new SpamdException($"bad response ({error}): '{shown}'");
            }
            if (final)
            {
                throw new SpamdException("connection closed without a reply");
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4201, Level = LogLevel.Warning, Message = "spamd {Server} failed: {Detail}")]
        public static partial void ServerFailed(ILogger logger, string server, string detail);
    }
}
