using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Smtp;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Frontends.Delivery;

/// <summary>Hands checked mail back to Postfix over SMTP (the reinjection smtpd, 127.0.0.1:10025 by default).</summary>
/// <remarks>
/// <para>One transaction per message: XFORWARD (only the attributes offered), MAIL FROM with the upstream parameters
/// the next hop understands, one RCPT per recipient, DATA, then the outgoing form of the spool (added header fields,
/// then the stored bytes verbatim) through a smuggling-safe dot-stuffer. With PIPELINING (RFC 2920) everything up to
/// DATA is sent in one write.</para>
/// <para>Failures are typed by cause (STYLE example 9): a broken, closed, slow or babbling next hop gives a transient
/// <c>451 4.4.x</c> outcome; the next hop's own 4xx stays transient and its 5xx permanent. Nothing is thrown for
/// peer trouble. A transaction that fails after DATA was accepted is abandoned by closing the connection <em>without</em>
/// the final dot, so the next hop never queues half a message.</para>
/// <para>Idle connections are pooled. Before reuse a connection must look alive (no EOF, no unsolicited reply);
/// if a reused connection still turns out dead before its first reply, the transaction is replayed once on a fresh
/// connection, so a next hop that closed an idle connection never costs a message a 4xx.</para>
/// </remarks>
public sealed partial class SmtpNextHopClient : INextHop, IAsyncDisposable
{
    /// <summary>RFC 5321 §4.5.3.1.4 limits a command line to 512 octets; XFORWARD_README repeats it.</summary>
    internal const int MaxCommandLine = 512;

    /// <summary>XFORWARD_README: an attribute value is at most 255 characters.</summary>
    internal const int MaxXforwardValue = 255;

    private static readonly string[] XforwardOrder = { "NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE" };

    private readonly NextHopOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly EndPoint _endPoint;
    private readonly string _peer;
    private readonly SmtpReplyReader _replyReader;
    private readonly Stack<NextHopConnection> _idle = new();
    private readonly object _lock = new();
    private readonly ITimer? _sweeper;
    private bool _disposed;

    /// <summary>Creates the client.</summary>
    public SmtpNextHopClient(NextHopOptions options, TimeProvider time, ILogger<SmtpNextHopClient> logger)
        : this(options, time, logger, SmtpReplyReader.Default)
    {
    }

    internal SmtpNextHopClient(NextHopOptions options, TimeProvider time, ILogger logger, SmtpReplyReader replyReader)
    {
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid next hop options: " + string.Join("; ", problems), nameof(options));
        }
        _options = options;
        _time = time;
        _logger = logger;
        _replyReader = replyReader;
        _endPoint = options.ResolveEndPoint();
        _peer = options.DescribePeer();
        if (options.MaxIdleConnections > 0)
        {
            _sweeper = time.CreateTimer(_ => SweepIdle(), null, options.IdleTimeout, options.IdleTimeout);
        }
    }

    /// <summary>The next hop, Postfix style (<c>smtp:[127.0.0.1]:10025</c>).</summary>
    public string Peer => _peer;

    /// <summary>Idle connections currently pooled.</summary>
    public int IdleConnections
    {
        get
        {
            lock (_lock)
            {
                return _idle.Count;
            }
        }
    }

    /// <summary>Connections opened so far (for tests and metrics).</summary>
    public int ConnectionsOpened => _connectionsOpened;

    private int _connectionsOpened;

    /// <inheritdoc />
    public async Task<DeliveryOutcome> DeliverAsync(Envelope envelope, MessageSpool spool, MessageHeaders headers, IReadOnlyList<HeaderEdit> edits, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (envelope.Recipients.Count == 0)
        {
            var none = new Reply(554, "5.5.1", "No recipients");
            return new DeliveryOutcome { Recipients = Array.Empty<RecipientOutcome>(), Final = none, Peer = _peer };
        }

        byte[] prefix = OutgoingMessage.BuildPrefix(headers, edits, out long copyFrom);
        long size = prefix.Length + spool.Length - copyFrom;

        for (int attempt = 0; ; attempt++)
        {
            NextHopConnection? connection = null;
            bool reused = false;
            try
            {
                (connection, reused) = await RentAsync(cancellationToken).ConfigureAwait(false);
                return await RunTransactionAsync(connection, reused, envelope, spool, headers, edits, size, cancellationToken).ConfigureAwait(false);
            }
            catch (StaleConnectionException stale) when (attempt == 0)
            {
                Log.StaleConnection(_logger, _peer, stale.Message);
                await connection!.DisposeAsync().ConfigureAwait(false);
            }
            catch (NextHopTransportException ex)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
                Log.TransportFailure(_logger, _peer, ex.Failure, ex.Message);
                return TransportFailure(envelope, ex);
            }
            catch (StaleConnectionException stale)
            {
                await connection!.DisposeAsync().ConfigureAwait(false);
                var ex = new NextHopTransportException(NextHopFailure.Closed, stale.Message);
                Log.TransportFailure(_logger, _peer, ex.Failure, ex.Message);
                return TransportFailure(envelope, ex);
            }
            catch (LocalMessageException ex)
            {
                await connection!.DisposeAsync().ConfigureAwait(false);
                Log.LocalFailure(_logger, _peer, ex.InnerException!);
                var reply = new Reply(451, "4.3.0", "Local error reading the message, try again later");
                return new DeliveryOutcome { Recipients = envelope.Recipients.Select(r => new RecipientOutcome(r, reply)).ToList(), Final = reply, Peer = _peer };
            }
            catch
            {
                // Caller cancellation or a bug: never leave a half-used connection behind.
                if (connection is not null)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
                throw;
            }
        }
    }

    private async Task<DeliveryOutcome> RunTransactionAsync(NextHopConnection connection, bool reused, Envelope envelope, MessageSpool spool, MessageHeaders headers, IReadOnlyList<HeaderEdit> edits, long size, CancellationToken cancellationToken)
    {
        EhloCapabilities caps = connection.Capabilities;
        TimeSpan commandTimeout = _options.CommandTimeout;
        var commands = new List<(string Phase, string Line)>();
        foreach (string xforward in BuildXforwardCommands(envelope.Client, caps))
        {
            commands.Add(("XFORWARD", xforward));
        }
        commands.Add(("MAIL FROM", BuildMailFrom(envelope, caps, size)));
        foreach (EnvelopeRecipient r in envelope.Recipients)
        {
            commands.Add(("RCPT TO", BuildRcptTo(r, caps)));
        }
        commands.Add(("DATA", "DATA"));

        int xforwardCount = commands.Count - envelope.Recipients.Count - 2;
        var replies = new List<SmtpReceivedReply>(commands.Count);
        bool firstReply = true;

        async ValueTask<SmtpReceivedReply> ReadAsync(string phase)
        {
            connection.Phase = phase;
            try
            {
                SmtpReceivedReply reply = await connection.ReadReplyAsync(commandTimeout, cancellationToken).ConfigureAwait(false);
                if (firstReply && reused && reply.Code == 421)
                {
                    // The next hop said goodbye on an idle connection (smtpd_timeout) just as we reused it.
                    throw new StaleConnectionException($"421 on a reused connection: {reply}");
                }
                firstReply = false;
                return reply;
            }
            catch (NextHopTransportException ex) when (firstReply && reused && ex.Failure == NextHopFailure.Closed)
            {
                throw new StaleConnectionException(ex.Message);
            }
        }

        async ValueTask WriteAsync(string phase, byte[] bytes)
        {
            connection.Phase = phase;
            try
            {
                await connection.WriteAsync(bytes, commandTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (NextHopTransportException ex) when (firstReply && reused && ex.Failure == NextHopFailure.Closed)
            {
                throw new StaleConnectionException(ex.Message);
            }
        }

        if (caps.Pipelining)
        {
            // RFC 2920 §3.1: DATA ends the group; all replies are then read in order.
            var batch = new StringBuilder();
            foreach ((string _, string line) in commands)
            {
                batch.Append(line).Append("\r\n");
            }
            await WriteAsync(commands[0].Phase, Encoding.UTF8.GetBytes(batch.ToString())).ConfigureAwait(false);
            foreach ((string phase, string _) in commands)
            {
                SmtpReceivedReply reply = await ReadAsync(phase).ConfigureAwait(false);
                replies.Add(reply);
                if (reply.Code == 421)
                {
                    break; // RFC 5321 §3.8: the server is closing; no further replies will come.
                }
            }
        }
        else
        {
            for (int i = 0; i < commands.Count; i++)
            {
                (string phase, string line) = commands[i];
                bool isData = i == commands.Count - 1;
                if (isData && !replies.Skip(xforwardCount + 1).Any(r => r.IsPositive))
                {
                    break; // no recipient accepted: do not start DATA
                }
                await WriteAsync(phase, NextHopConnection.SmtpCommandBytes(line)).ConfigureAwait(false);
                SmtpReceivedReply reply = await ReadAsync(phase).ConfigureAwait(false);
                replies.Add(reply);
                if (reply.Code == 421)
                {
                    break;
                }
                bool failedEarly = (phase == "XFORWARD" || phase == "MAIL FROM") && !reply.IsPositive;
                if (failedEarly)
                {
                    break;
                }
            }
        }

        if (replies[^1].Code == 421)
        {
            // Service closing (RFC 5321 §3.8): transient for every recipient, and the connection is gone.
            Reply closing = ToReply(replies[^1], connection.Phase);
            await connection.DisposeAsync().ConfigureAwait(false);
            return Outcome(envelope.Recipients.Select(r => new RecipientOutcome(r, closing)).ToList(), closing, null);
        }

        // XFORWARD refused: a configuration problem at the next hop (smtpd_authorized_xforward_hosts); fail closed.
        for (int i = 0; i < xforwardCount && i < replies.Count; i++)
        {
            if (!replies[i].IsPositive)
            {
                // The caller closes the connection (no RSET: it must not go back to the pool).
                throw new NextHopTransportException(NextHopFailure.SessionRefused, $"XFORWARD was answered {replies[i]}");
            }
        }

        SmtpReceivedReply mail = replies[xforwardCount];
        if (!mail.IsPositive)
        {
            Reply mailReply = ToReply(mail, "MAIL FROM");
            await FinishWithoutDataAsync(connection, replies, commands.Count).ConfigureAwait(false);
            return Outcome(envelope.Recipients.Select(r => new RecipientOutcome(r, mailReply)).ToList(), mailReply, null);
        }

        var outcomes = new List<RecipientOutcome>(envelope.Recipients.Count);
        for (int i = 0; i < envelope.Recipients.Count; i++)
        {
            int index = xforwardCount + 1 + i;
            SmtpReceivedReply? rcpt = index < replies.Count ? replies[index] : null;
            outcomes.Add(new RecipientOutcome(envelope.Recipients[i], rcpt is null ? new Reply(503, "5.5.1", "not sent") : ToReply(rcpt, "RCPT TO")));
        }
        if (!outcomes.Any(o => o.Accepted))
        {
            // Report the most hopeful refusal: a transient one wins, so upstream retries rather than bounces.
            Reply final = outcomes.FirstOrDefault(o => o.Reply.IsTransient)?.Reply ?? outcomes[0].Reply;
            await FinishWithoutDataAsync(connection, replies, commands.Count).ConfigureAwait(false);
            return Outcome(outcomes, final, null);
        }

        SmtpReceivedReply data = replies[^1];
        if (data.Code != 354)
        {
            if (data.IsPositive || data.Code < 300)
            {
                throw new NextHopTransportException(NextHopFailure.Garbage, $"DATA was answered {data}");
            }
            Reply dataReply = ToReply(data, "DATA");
            await ResetAsync(connection).ConfigureAwait(false);
            return Outcome(ReplaceAccepted(outcomes, dataReply), dataReply, null);
        }

        // Stream the message. Any failure from here on closes the connection without the dot.
        connection.Phase = "message data";
        var stuffing = new DotStuffingStream(connection, commandTimeout);
        try
        {
            await OutgoingMessage.WriteAsync(spool, headers, edits, stuffing, cancellationToken).ConfigureAwait(false);
        }
        catch (NextHopTransportException)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ObjectDisposedException)
        {
            throw new LocalMessageException(ex);
        }
        connection.Phase = "end of data";
        await stuffing.CompleteAsync(cancellationToken).ConfigureAwait(false);
        SmtpReceivedReply done = await connection.ReadReplyAsync(_options.DataDoneTimeout, cancellationToken).ConfigureAwait(false);
        if (done.IsIntermediate)
        {
            throw new NextHopTransportException(NextHopFailure.Garbage, $"end of data was answered {done}");
        }
        Reply doneReply = ToReply(done, "end of data");
        if (!done.IsPositive)
        {
            await ResetAsync(connection).ConfigureAwait(false);
            return Outcome(ReplaceAccepted(outcomes, doneReply), doneReply, null);
        }

        connection.Transactions++;
        Return(connection);
        string? queuedAs = ParseQueuedAs(done.Text);
        Log.Delivered(_logger, _peer, outcomes.Count(o => o.Accepted), queuedAs ?? "-");
        return Outcome(ReplaceAccepted(outcomes, doneReply), doneReply, queuedAs);
    }

    private DeliveryOutcome Outcome(IReadOnlyList<RecipientOutcome> recipients, Reply final, string? queuedAs) =>
        new() { Recipients = recipients, Final = final, QueuedAs = queuedAs, Peer = _peer };

    private static List<RecipientOutcome> ReplaceAccepted(List<RecipientOutcome> outcomes, Reply reply) =>
        outcomes.Select(o => o.Accepted ? o with { Reply = reply } : o).ToList();

    private DeliveryOutcome TransportFailure(Envelope envelope, NextHopTransportException ex)
    {
        var reply = new Reply(451, ex.EnhancedCode, $"Next hop {_peer} unavailable: {ex.Message}, try again later");
        return new DeliveryOutcome { Recipients = envelope.Recipients.Select(r => new RecipientOutcome(r, reply)).ToList(), Final = reply, Peer = _peer };
    }

    /// <summary>Reads the replies of pipelined commands still outstanding, then RSETs (or drops) the connection.</summary>
    private async Task FinishWithoutDataAsync(NextHopConnection connection, List<SmtpReceivedReply> replies, int expected)
    {
        // In lockstep mode nothing is outstanding; in pipelined mode every reply was read already.
        if (replies.Count == expected && replies[^1].Code == 354)
        {
            // The next hop wants data we will not send (it accepted DATA anyway): abandon without the dot.
            await connection.DisposeAsync().ConfigureAwait(false);
            return;
        }
        await ResetAsync(connection).ConfigureAwait(false);
    }

    /// <summary>RSET after a refused transaction; the connection goes back to the pool only when RSET is answered 250.</summary>
    private async Task ResetAsync(NextHopConnection connection)
    {
        try
        {
            connection.Phase = "RSET";
            await connection.WriteAsync(NextHopConnection.SmtpCommandBytes("RSET"), _options.CommandTimeout, CancellationToken.None).ConfigureAwait(false);
            SmtpReceivedReply reply = await connection.ReadReplyAsync(_options.CommandTimeout, CancellationToken.None).ConfigureAwait(false);
            if (reply.IsPositive)
            {
                Return(connection);
                return;
            }
        }
        catch (NextHopTransportException)
        {
        }
        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<(NextHopConnection Connection, bool Reused)> RentAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            NextHopConnection? candidate = null;
            lock (_lock)
            {
                if (_idle.Count > 0)
                {
                    candidate = _idle.Pop();
                }
            }
            if (candidate is null)
            {
                break;
            }
            bool expired = _time.GetElapsedTime(candidate.IdleSince) >= _options.IdleTimeout;
            if (!expired && candidate.LooksAlive())
            {
                return (candidate, true);
            }
            Log.DroppedIdle(_logger, _peer, expired ? "idle timeout" : "closed by the next hop");
            await candidate.DisposeAsync().ConfigureAwait(false);
        }
        NextHopConnection fresh = await NextHopConnection.OpenAsync(_endPoint, _options, _time, _replyReader, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _connectionsOpened);
        return (fresh, false);
    }

    private void Return(NextHopConnection connection)
    {
        connection.IdleSince = _time.GetTimestamp();
        connection.Phase = "idle";
        lock (_lock)
        {
            if (!_disposed && _idle.Count < _options.MaxIdleConnections)
            {
                _idle.Push(connection);
                return;
            }
        }
        _ = connection.QuitAsync().AsTask();
    }

    private void SweepIdle()
    {
        var expired = new List<NextHopConnection>();
        lock (_lock)
        {
            if (_idle.Count == 0)
            {
                return;
            }
            var keep = new List<NextHopConnection>();
            foreach (NextHopConnection c in _idle)
            {
                (_time.GetElapsedTime(c.IdleSince) >= _options.IdleTimeout ? expired : keep).Add(c);
            }
            _idle.Clear();
            for (int i = keep.Count - 1; i >= 0; i--)
            {
                _idle.Push(keep[i]);
            }
        }
        foreach (NextHopConnection c in expired)
        {
            _ = c.QuitAsync().AsTask();
        }
    }

    /// <summary>
    /// XFORWARD commands for the attributes the next hop offered, each line at most 512 octets (XFORWARD_README).
    /// Unknown values are <c>[UNAVAILABLE]</c>; ADDR gets the <c>IPV6:</c> prefix for IPv6; values are xtext.
    /// </summary>
    internal static IReadOnlyList<string> BuildXforwardCommands(ClientInfo client, EhloCapabilities caps)
    {
        IReadOnlySet<string> offered = caps.XforwardAttributes;
        if (!caps.Xforward || offered.Count == 0)
        {
            return Array.Empty<string>();
        }
        var attributes = new List<string>();
        foreach (string name in XforwardOrder)
        {
            if (!offered.Contains(name))
            {
                continue;
            }
            string? value = name switch
            {
                "NAME" => client.Name,
                "ADDR" => client.Address is null ? null : FormatAddress(client.Address),
                "PORT" => client.Port?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "PROTO" => client.Protocol,
                "HELO" => client.Helo,
                "IDENT" => client.Ident,
                "SOURCE" => client.Source,
                _ => null,
            };
            string encoded = string.IsNullOrEmpty(value) ? "[UNAVAILABLE]" : Truncate(XtextEncoder.Encode(value), MaxXforwardValue);
            attributes.Add(name + "=" + encoded);
        }

        var lines = new List<string>();
        var current = new StringBuilder("XFORWARD");
        foreach (string attribute in attributes)
        {
            // "XFORWARD" + " " + attribute + CRLF must fit in 512 octets.
            if (current.Length > "XFORWARD".Length && current.Length + 1 + attribute.Length + 2 > MaxCommandLine)
            {
                lines.Add(current.ToString());
                current = new StringBuilder("XFORWARD");
            }
            current.Append(' ').Append(attribute);
        }
        lines.Add(current.ToString());
        return lines;
    }

    private static string FormatAddress(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? "IPV6:" + new IPAddress(address.GetAddressBytes()) // drops a scope id
            : address.ToString();
    }

    private static string Truncate(string xtext, int max)
    {
        if (xtext.Length <= max)
        {
            return xtext;
        }
        int cut = max;
        // Never cut inside a "+XX" escape.
        if (xtext[cut - 1] == '+')
        {
            cut -= 1;
        }
        else if (cut >= 2 && xtext[cut - 2] == '+')
        {
            cut -= 2;
        }
        return xtext[..cut];
    }

    /// <summary>
    /// MAIL FROM with the upstream parameters the next hop understands: BODY= (8BITMIME), SMTPUTF8, RET=/ENVID= (DSN),
    /// AUTH= (AUTH), any other keyword the next hop advertised; SIZE= is recomputed for the outgoing form.
    /// </summary>
    internal static string BuildMailFrom(Envelope envelope, EhloCapabilities caps, long size)
    {
        var sb = new StringBuilder("MAIL FROM:<").Append(envelope.MailFrom).Append('>');
        foreach (string parameter in envelope.MailParameters)
        {
            string keyword = Keyword(parameter);
            bool pass = keyword switch
            {
                "SIZE" => false,
                "BODY" => caps.EightBitMime || parameter.Equals("BODY=7BIT", StringComparison.OrdinalIgnoreCase),
                "SMTPUTF8" => caps.SmtpUtf8,
                "RET" or "ENVID" => caps.Dsn,
                _ => caps.Has(keyword),
            };
            if (pass)
            {
                sb.Append(' ').Append(parameter);
            }
        }
        if (caps.Size)
        {
            sb.Append(" SIZE=").Append(size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>RCPT TO with NOTIFY=/ORCPT= only when DSN is offered, other parameters only when their keyword is.</summary>
    internal static string BuildRcptTo(EnvelopeRecipient recipient, EhloCapabilities caps)
    {
        var sb = new StringBuilder("RCPT TO:<").Append(recipient.Address).Append('>');
        foreach (string parameter in recipient.Parameters)
        {
            string keyword = Keyword(parameter);
            bool pass = keyword is "NOTIFY" or "ORCPT" ? caps.Dsn : caps.Has(keyword);
            if (pass)
            {
                sb.Append(' ').Append(parameter);
            }
        }
        return sb.ToString();
    }

    private static string Keyword(string parameter)
    {
        int eq = parameter.IndexOf('=');
        return (eq < 0 ? parameter : parameter[..eq]).ToUpperInvariant();
    }

    /// <summary>The next hop's reply as a pipeline <see cref="Reply"/>; a missing enhanced code becomes <c>X.0.0</c>.</summary>
    internal static Reply ToReply(SmtpReceivedReply reply, string phase)
    {
        string enhanced = reply.EnhancedCode ?? $"{reply.Code / 100}.0.0";
        return new Reply(reply.Code, enhanced, reply.Text.Length > 0 ? reply.Text : phase + " answered " + reply.Code);
    }

    /// <summary>Postfix's <c>250 2.0.0 Ok: queued as 5F3A21C0B7</c>.</summary>
    internal static string? ParseQueuedAs(string text)
    {
        Match m = QueuedAsRegex().Match(text);
        return m.Success ? m.Groups[1].Value : null;
    }

    [GeneratedRegex(@"queued as ([A-Za-z0-9]+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex QueuedAsRegex();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        NextHopConnection[] idle;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            idle = _idle.ToArray();
            _idle.Clear();
        }
        _sweeper?.Dispose();
        foreach (NextHopConnection c in idle)
        {
            await c.QuitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A reused connection died before its first reply: replay on a fresh one.</summary>
    private sealed class StaleConnectionException : Exception
    {
        public StaleConnectionException(string message)
            : base(message)
        {
        }
    }

    /// <summary>Reading the spool failed: our problem, not the next hop's.</summary>
    private sealed class LocalMessageException : Exception
    {
        public LocalMessageException(Exception inner)
            : base(inner.Message, inner)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3101, Level = LogLevel.Debug, Message = "Next hop {Peer} accepted the message for {Count} recipient(s), queued as {QueuedAs}")]
        public static partial void Delivered(ILogger logger, string peer, int count, string queuedAs);

        [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Next hop {Peer} failed ({Failure}): {Detail}")]
        public static partial void TransportFailure(ILogger logger, string peer, NextHopFailure failure, string detail);

        [LoggerMessage(EventId = 3103, Level = LogLevel.Debug, Message = "Reused connection to {Peer} was stale ({Detail}); retrying on a new connection")]
        public static partial void StaleConnection(ILogger logger, string peer, string detail);

        [LoggerMessage(EventId = 3104, Level = LogLevel.Debug, Message = "Dropped idle connection to {Peer}: {Reason}")]
        public static partial void DroppedIdle(ILogger logger, string peer, string reason);

        [LoggerMessage(EventId = 3105, Level = LogLevel.Error, Message = "Could not read the message for {Peer}; transaction abandoned without the dot")]
        public static partial void LocalFailure(ILogger logger, string peer, Exception exception);
    }
}
