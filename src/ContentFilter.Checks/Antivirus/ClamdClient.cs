using System.Buffers;
using System.Net.Sockets;
using ContentFilter.Protocols.Clamd;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Antivirus;

/// <summary>Talks to one or more clamd daemons: INSTREAM scans streamed from a stream, PING and VERSION for health.</summary>
/// <remarks>
/// <para>The message is streamed in <see cref="ClamAvOptions.ChunkSize"/> chunks from one pooled buffer with four
/// bytes reserved in front for the length prefix, so prefix and data leave in one write and memory does not grow
/// with message size (no whole-message buffer, unlike clients that read the file first).</para>
/// <para>clamd may answer before the upload ends (<c>INSTREAM size limit exceeded. ERROR</c>) and close, so a failed
/// write is remembered and the reply is read anyway. Replies are parsed by <see cref="ClamdReplyReader"/>; any reply
/// that is not OK or FOUND is a failure, never "clean". Servers are tried round robin, each failure moves to the next
/// one (the stream is rewound; it must be seekable for that), and every failure names its server.</para>
/// </remarks>
public sealed partial class ClamdClient
{
    private const int MaxReplyBytes = 64 * 1024;
    private const int InitialReplyBytes = 256;

    private readonly ClamAvOptions _options;
    private readonly ScannerRing _ring;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the client. Addresses are parsed here: an invalid one throws <see cref="FormatException"/>.</summary>
    public ClamdClient(ClamAvOptions options, TimeProvider time, ILogger<ClamdClient> logger)
    {
        _options = options;
        _ring = new ScannerRing(options.EffectiveServers.Select(s => ScannerEndpoint.Parse(s, 3310)));
        _time = time;
        _logger = logger;
    }

    /// <summary>The configured servers.</summary>
    public IReadOnlyList<ScannerEndpoint> Servers => _ring.Servers;

    /// <summary>Scans the rest of <paramref name="content"/> with the first server that gives a usable answer.</summary>
    /// <returns>The outcome; never throws for scanner trouble (a <see cref="ClamdScanStatus.Failed"/> outcome instead).</returns>
    public async Task<ClamdScanOutcome> ScanAsync(Stream content, CancellationToken cancellationToken)
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
            ClamdScanOutcome outcome = await ScanOneAsync(server, content, cancellationToken).ConfigureAwait(false);
            if (outcome.Status != ClamdScanStatus.Failed)
            {
                return outcome;
            }
            Log.ServerFailed(_logger, server.Display, outcome.Detail ?? "unknown");
            failures.Add($"{server.Display}: {outcome.Detail}");
        }
        return new ClamdScanOutcome(ClamdScanStatus.Failed, Array.Empty<string>(), last, string.Join("; ", failures));
    }

    /// <summary>Sends <c>zPING</c> to <paramref name="server"/>; true when it answers <c>PONG</c>.</summary>
    public async Task<ClamdHealth> CheckHealthAsync(ScannerEndpoint server, CancellationToken cancellationToken)
    {
        try
        {
            ClamdReply pong = await CommandAsync(server, ClamdCommand.Ping, cancellationToken).ConfigureAwait(false);
            if (pong.Kind != ClamdReplyKind.Pong)
            {
                return new ClamdHealth(server.Display, false, null, $"unexpected reply to PING: {pong.Kind}");
            }
            ClamdReply version = await CommandAsync(server, ClamdCommand.Version, cancellationToken).ConfigureAwait(false);
            return new ClamdHealth(server.Display, true, version.Kind == ClamdReplyKind.Version ? version.Text : null, null);
        }
        catch (ClamdException ex)
        {
            return new ClamdHealth(server.Display, false, null, ex.Message);
        }
    }

    /// <summary>Sends a one-line command (<c>zPING</c>, <c>zVERSION</c>) and reads the one reply.</summary>
    /// <exception cref="ClamdException">Unreachable, timeout, or an unreadable reply.</exception>
    public async Task<ClamdReply> CommandAsync(ScannerEndpoint server, ClamdCommand command, CancellationToken cancellationToken)
    {
        if (command == ClamdCommand.Instream)
        {
            throw new ArgumentException("Use ScanAsync for INSTREAM.", nameof(command));
        }
        Socket socket = await ConnectAsync(server, cancellationToken).ConfigureAwait(false);
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        using var deadline = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await stream.WriteAsync(ClamdRequestWriter.CommandBytes(command).ToArray(), linked.Token).ConfigureAwait(false);
            var replies = new List<ClamdReply>();
            string? error = await ReadRepliesAsync(stream, replies, stopAtFirst: true, linked.Token).ConfigureAwait(false);
            if (error is not null || replies.Count == 0)
            {
                throw new ClamdException($"{server.Display}: {error ?? "no reply"}");
            }
            return replies[0];
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ClamdException($"{server.Display}: no reply within {_options.Timeout.TotalSeconds:0.###} s");
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            throw new ClamdException($"{server.Display}: {ex.Message}", ex);
        }
    }

    private async Task<Socket> ConnectAsync(ScannerEndpoint server, CancellationToken cancellationToken)
    {
        try
        {
            return await server.ConnectAsync(_options.ConnectTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new ClamdException(ex.Message, ex);
        }
        catch (SocketException ex)
        {
            throw new ClamdException($"{server.Display}: connect failed: {ex.SocketErrorCode} ({ex.Message})", ex);
        }
    }

    private async Task<ClamdScanOutcome> ScanOneAsync(ScannerEndpoint server, Stream content, CancellationToken cancellationToken)
    {
        Socket socket;
        try
        {
            socket = await ConnectAsync(server, cancellationToken).ConfigureAwait(false);
        }
        catch (ClamdException ex)
        {
            return Failed(server, ex.Message);
        }

        await using var stream = new NetworkStream(socket, ownsSocket: true);
        using var deadline = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        // One buffer holds what goes out in one write: the command (first time only), a chunk header and its data,
        // and the end-of-stream marker once the content is known to be finished. clamd wakes up once per arrival, so
        // a 10 KB message goes in a single write (three writes cost clamd about three times the CPU).
        ReadOnlySpan<byte> command = ClamdRequestWriter.CommandBytes(ClamdCommand.Instream);
        int header = ClamdRequestWriter.ChunkHeaderLength;
        // A message smaller than a chunk gets a buffer its size (a 10 KB message need not rent 128 KiB).
        int chunkSize = content.CanSeek
            ? (int)Math.Clamp(content.Length - content.Position, 1, _options.ChunkSize)
            : _options.ChunkSize;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(command.Length + header + chunkSize + header);
        string? writeError = null;
        try
        {
            try
            {
                command.CopyTo(buffer);
                int pos = command.Length;
                while (true)
                {
                    int n = await content.ReadAsync(buffer.AsMemory(pos + header, chunkSize), linked.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        ClamdRequestWriter.EndOfStream.CopyTo(buffer.AsSpan(pos));
                        await stream.WriteAsync(buffer.AsMemory(0, pos + header), linked.Token).ConfigureAwait(false);
                        break;
                    }
                    ClamdRequestWriter.WriteChunkHeader(n, buffer.AsSpan(pos));
                    int length = pos + header + n;
                    bool last = content.CanSeek && content.Position >= content.Length;
                    if (last)
                    {
                        ClamdRequestWriter.EndOfStream.CopyTo(buffer.AsSpan(length));
                        length += header;
                    }
                    await stream.WriteAsync(buffer.AsMemory(0, length), linked.Token).ConfigureAwait(false);
                    if (last)
                    {
                        break;
                    }
                    pos = 0;
                    if (socket.Available > 0)
                    {
                        // clamd answered mid-upload (size limit, error): stop sending and read it.
                        break;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                writeError = ex.Message;
            }

            var replies = new List<ClamdReply>();
            string? error;
            try
            {
                error = await ReadRepliesAsync(stream, replies, stopAtFirst: false, linked.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                error = "read failed: " + ex.Message;
            }
            return Interpret(server, replies, error, writeError);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Failed(server, $"no reply within {_options.Timeout.TotalSeconds:0.###} s");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static ClamdScanOutcome Interpret(ScannerEndpoint server, List<ClamdReply> replies, string? readError, string? writeError)
    {
        var viruses = new List<string>();
        foreach (ClamdReply r in replies)
        {
            switch (r.Kind)
            {
                case ClamdReplyKind.Found:
                    viruses.Add(r.Text);
                    break;
                case ClamdReplyKind.SizeLimitExceeded:
                    return new ClamdScanOutcome(ClamdScanStatus.SizeLimitExceeded, Array.Empty<string>(), server.Display, "clamd: " + r.Text);
                case ClamdReplyKind.Error:
                    return Failed(server, "clamd: " + r.Text + " ERROR");
                case ClamdReplyKind.Clean:
                    break;
                default:
                    return Failed(server, $"unexpected reply to INSTREAM: {r.Kind}");
            }
        }
        if (viruses.Count > 0)
        {
            // A FOUND is certain even if the connection broke afterwards.
            return new ClamdScanOutcome(ClamdScanStatus.Infected, viruses, server.Display, null);
        }
        if (readError is not null)
        {
            return Failed(server, writeError is null ? readError : $"{readError} (after write error: {writeError})");
        }
        if (replies.Any(r => r.Kind == ClamdReplyKind.Clean))
        {
            return new ClamdScanOutcome(ClamdScanStatus.Clean, Array.Empty<string>(), server.Display, null);
        }
        return Failed(server, writeError is null ? "connection closed without a reply" : $"write failed: {writeError}; no reply");
    }

    /// <summary>Reads NUL-terminated replies until the peer closes (or, with <paramref name="stopAtFirst"/>, the first
    /// reply; also after a final OK or ERROR). Returns an error text, or null.</summary>
    /// <remarks>Replies are a few dozen bytes (<c>stream: OK</c>), so the buffer starts small and grows, pooled, only
    /// for a long one, up to <see cref="MaxReplyBytes"/>. (A fresh 64 KiB array per scan, zeroed by the allocator,
    /// was 7 % of the process's CPU on the clamd path.)</remarks>
    private static async Task<string?> ReadRepliesAsync(Stream stream, List<ClamdReply> replies, bool stopAtFirst, CancellationToken cancellationToken)
    {
        byte[] pending = ArrayPool<byte>.Shared.Rent(InitialReplyBytes);
        int pendingLength = 0;
        try
        {
            while (true)
            {
                int capacity = Math.Min(pending.Length, MaxReplyBytes);
                if (pendingLength == capacity)
                {
                    if (capacity == MaxReplyBytes)
                    {
                        return "reply too long (" + ClamdError.ReplyTooLong + ")";
                    }
                    byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(capacity * 8, MaxReplyBytes));
                    pending.AsSpan(0, pendingLength).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(pending);
                    pending = larger;
                    capacity = Math.Min(pending.Length, MaxReplyBytes);
                }
                int n = await stream.ReadAsync(pending.AsMemory(pendingLength, capacity - pendingLength), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    return pendingLength == 0 ? null : "connection closed inside a reply (" + ClamdError.TruncatedReply + ")";
                }
                pendingLength += n;
                var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(pending, 0, pendingLength));
                while (true)
                {
                    if (!ClamdReplyReader.TryRead(ref reader, ClamdLimits.Default, out ClamdReply reply, out ClamdError error))
                    {
                        if (error != ClamdError.None)
                        {
                            return Describe(error, pending.AsSpan((int)reader.Consumed, pendingLength - (int)reader.Consumed));
                        }
                        break;
                    }
                    replies.Add(reply);
                    if (stopAtFirst || reply.Kind is ClamdReplyKind.Clean or ClamdReplyKind.Error or ClamdReplyKind.SizeLimitExceeded)
                    {
                        return null;
                    }
                }
                int consumed = (int)reader.Consumed;
                pending.AsSpan(consumed, pendingLength - consumed).CopyTo(pending);
                pendingLength -= consumed;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pending);
        }
    }

    private static string Describe(ClamdError error, ReadOnlySpan<byte> rest)
    {
        if (error != ClamdError.UnrecognizedReply)
        {
            return error.ToString();
        }
        int end = rest.IndexOf((byte)0);
        ReadOnlySpan<byte> line = end < 0 ? rest : rest[..end];
        string shown = System.Text.Encoding.UTF8.GetString(line[..Math.Min(80, line.Length)]);
        return $"unrecognized reply '{shown.ReplaceLineEndings(" ")}'";
    }

    private static ClamdScanOutcome Failed(ScannerEndpoint server, string detail) =>
        new(ClamdScanStatus.Failed, Array.Empty<string>(), server.Display, detail);

    private static partial class Log
    {
        [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "clamd {Server} failed: {Detail}")]
        public static partial void ServerFailed(ILogger logger, string server, string detail);
    }
}
