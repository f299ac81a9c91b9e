using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using ContentFilter.Frontends.Transport;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Policy;
using ContentFilter.Pipeline.Quarantine;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Smtp;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Frontends.SmtpProxy;

/// <summary>The after-queue SMTP/LMTP proxy door: receives from Postfix, checks, reinjects, and only then answers.</summary>
/// <remarks>
/// <para>One instance serves every connection of a listener; each <see cref="HandleAsync"/> runs one session.
/// Invariant 1 (no mail is lost): upstream hears 2xx only after the next hop accepted the message (or after a
/// deliberate, audited discard); every other outcome, including any exception, is 4xx, so Postfix keeps its copy
/// and retries. The spool is deleted only after our reply was written.</para>
/// <para>PIPELINING (RFC 2920): every complete command in the input is answered into the output buffer, which is
/// flushed when no complete command is left. LMTP (RFC 2033): LHLO instead of EHLO/HELO, and one reply per
/// accepted recipient after the final dot.</para>
/// <para>XFORWARD (XFORWARD_README) fills <see cref="Envelope.Client"/>: the first XFORWARD of a transaction starts
/// from all-unknown, later ones update; RSET, EHLO and the final dot reset it.</para>
/// </remarks>
public sealed partial class SmtpProxySession : IConnectionHandler
{
    private static readonly string[] XforwardKeyword = { "XFORWARD " + string.Join(' ', XforwardAttribute.Supported) };

    private readonly SmtpProxyOptions _options;
    private readonly ListenerOptions _listener;
    private readonly ListenerPolicy _policy;
    private readonly CheckPipeline _pipeline;
    private readonly INextHop _nextHop;
    private readonly IDsnSender _dsn;
    private readonly IQuarantineStore _quarantine;
    private readonly IAuditSink _audit;
    private readonly SpoolOptions _spool;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _hostName;
    private readonly bool _lmtp;
    private readonly LocalDomains? _localDomains;

    /// <summary>Creates the door for one listener. Throws <see cref="ArgumentException"/> for invalid options.</summary>
    /// <remarks><paramref name="localDomains"/> only refines the audit word for originating mail: <c>Internal</c> when every
    /// recipient is local, else <c>Outbound</c> (amavis); without it originating mail is logged as <c>Outbound</c>.</remarks>
    public SmtpProxySession(
        SmtpProxyOptions options,
        ListenerOptions listener,
        CheckPipeline pipeline,
        INextHop nextHop,
        IDsnSender dsn,
        IQuarantineStore quarantine,
        IAuditSink audit,
        SpoolOptions spool,
        TimeProvider time,
        ILogger<SmtpProxySession> logger,
        LocalDomains? localDomains = null)
    {
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(Environment.NewLine, errors), nameof(options));
        }
        if (listener.Protocol is not (ListenerProtocol.Smtp or ListenerProtocol.Lmtp))
        {
            throw new ArgumentException($"listener '{listener.Name}' speaks {listener.Protocol}, not SMTP or LMTP", nameof(listener));
        }
        _options = options;
        _listener = listener;
        _policy = listener.ToListenerPolicy();
        _pipeline = pipeline;
        _nextHop = nextHop;
        _dsn = dsn;
        _quarantine = quarantine;
        _audit = audit;
        _spool = spool;
        _time = time;
        _logger = logger;
        _hostName = string.IsNullOrEmpty(options.HostName) ? Environment.MachineName : options.HostName;
        _lmtp = listener.Protocol == ListenerProtocol.Lmtp;
        _localDomains = localDomains;
    }

    private string DirectionWord(Envelope envelope)
    {
        if (_listener.Direction == MessageDirection.Inbound)
        {
            return "Inbound";
        }
        return _localDomains is { Count: > 0 } && envelope.Recipients.Count > 0 && envelope.Recipients.All(r => _localDomains.IsLocal(r.Address))
            ? "Internal"
            : "Outbound";
    }

    /// <inheritdoc />
    public Task HandleAsync(ConnectionContext connection, CancellationToken aborted) =>
        new Session(this, connection, aborted).RunAsync();

    /// <summary>The refusal for the listener (<see cref="ConnectionRefuser"/>): <c>554 5.7.1</c> for a client not
    /// allowed, <c>421 4.3.2</c> when busy or stopping.</summary>
    public async Task RefuseAsync(ConnectionContext connection, ConnectionRefusal reason, CancellationToken cancellationToken)
    {
        PipeWriter output = connection.Transport.Output;
        if (reason == ConnectionRefusal.NotAllowed)
        {
            SmtpReplyWriter.Write(554, "5.7.1", $"{_hostName} Access denied", output);
        }
        else
        {
            SmtpReplyWriter.Write(421, "4.3.2", reason == ConnectionRefusal.TooManySessions
                ? $"{_hostName} Too many connections, try again later"
                : $"{_hostName} Service shutting down, try again later", output);
        }
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed class SessionClosedException(string reason) : Exception(reason);

    /// <summary>One connection's state. Only this class does I/O; commands are parsed by pure codecs.</summary>
    private sealed class Session
    {
        private readonly SmtpProxySession _door;
        private readonly ConnectionContext _connection;
        private readonly CancellationToken _aborted;
        private readonly PipeReader _input;
        private readonly PipeWriter _output;
        private readonly SmtpCommandLineReader _lines;
        private readonly SmtpDataDecoder _decoder = new();
        private readonly ArrayBufferWriter<byte> _decoded = new(64 * 1024);
        private SmtpState _state = SmtpState.Connected;
        private Envelope? _envelope;
        private ClientInfo? _xforward;
        private bool _smtpUtf8;
        private int _errors;

        public Session(SmtpProxySession door, ConnectionContext connection, CancellationToken aborted)
        {
            _door = door;
            _connection = connection;
            _aborted = aborted;
            _input = connection.Transport.Input;
            _output = connection.Transport.Output;
            _lines = new SmtpCommandLineReader(door._options.MaxCommandLineLength, door._options.MaxMailRcptLineLength);
        }

        private SmtpProxyOptions Options => _door._options;

        private ILogger Logger => _door._logger;

        private enum Next
        {
            Continue,
            Data,
            Close,
        }

        public async Task RunAsync()
        {
            Log.SessionStarted(Logger, _connection.Id, _connection.RemoteEndPoint?.ToString() ?? "unix");
            try
            {
                Write(220, null, $"{_door._hostName} {(_door._lmtp ? "LMTP" : "ESMTP")} ContentFilter");
                await FlushAsync().ConfigureAwait(false);
                long? partialSince = null;
                while (true)
                {
                    bool idle = _state is SmtpState.Connected or SmtpState.Ready;
                    if (idle && _connection.Stopping.IsCancellationRequested)
                    {
                        Write(421, "4.3.2", $"{_door._hostName} Service shutting down, closing transmission channel");
                        await FlushAsync().ConfigureAwait(false);
                        return;
                    }
                    // CommandTimeout bounds the whole command line, not each read: a client sending a byte a second
                    // must not hold the session (Postfix's smtpd_per_record_deadline).
                    TimeSpan wait = Options.CommandTimeout;
                    if (partialSince is long since)
                    {
                        wait -= _door._time.GetElapsedTime(since);
                        if (wait <= TimeSpan.Zero)
                        {
                            wait = TimeSpan.FromTicks(1);
                        }
                    }
                    ReadResult result = await ReadAsync(wait, stopOnShutdown: idle, reportedTimeout: Options.CommandTimeout).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    Next next = ProcessCommands(buffer, out SequencePosition consumed, out int handled);
                    if (handled > 0)
                    {
                        partialSince = buffer.Slice(consumed).IsEmpty ? null : _door._time.GetTimestamp();
                    }
                    else if (!buffer.IsEmpty)
                    {
                        partialSince ??= _door._time.GetTimestamp(); // inside a line (or discarding an overlong one)
                    }
                    if (next == Next.Data)
                    {
                        _input.AdvanceTo(consumed); // bytes after DATA are message data: do not mark them examined
                    }
                    else
                    {
                        _input.AdvanceTo(consumed, buffer.End);
                    }
                    await FlushAsync().ConfigureAwait(false);
                    if (next == Next.Close)
                    {
                        return;
                    }
                    if (next == Next.Data)
                    {
                        if (!await ReceiveMessageAsync().ConfigureAwait(false))
                        {
                            return;
                        }
                        partialSince = null;
                        continue;
                    }
                    if (result.IsCompleted)
                    {
                        Log.ClientClosed(Logger, _connection.Id, _state.ToString());
                        return;
                    }
                }
            }
            catch (SessionClosedException ex)
            {
                Log.SessionClosed(Logger, _connection.Id, ex.Message);
            }
            catch (OperationCanceledException) when (_aborted.IsCancellationRequested)
            {
                await TryWriteFinalAsync(421, "4.3.2", $"{_door._hostName} Service shutting down, closing transmission channel").ConfigureAwait(false);
            }
        }

        // ---- command phase -------------------------------------------------------------------------------------

        private Next ProcessCommands(ReadOnlySequence<byte> buffer, out SequencePosition consumed, out int handled)
        {
            var reader = new SequenceReader<byte>(buffer);
            Next next = Next.Continue;
            handled = 0;
            while (next == Next.Continue)
            {
                if (_lines.TryRead(ref reader, out ReadOnlySequence<byte> line, out SmtpError error))
                {
                    handled++;
                    next = HandleLine(line);
                }
                else if (error != SmtpError.None)
                {
                    handled++;
                    next = Refuse(error);
                }
                else
                {
                    break; // need more
                }
            }
            consumed = reader.Position;
            return next;
        }

        private Next HandleLine(ReadOnlySequence<byte> line)
        {
            if (!SmtpCommandParser.TryParse(line, out SmtpCommand? command, out SmtpError error))
            {
                return Refuse(error);
            }
            SmtpVerb verb = command!.Verb;
            if ((_door._lmtp && verb is SmtpVerb.Ehlo or SmtpVerb.Helo) || (!_door._lmtp && verb == SmtpVerb.Lhlo))
            {
                return Refuse(SmtpError.UnknownCommand);
            }
            if (!SmtpStateTable.IsAllowed(_state, verb, out string? refusal))
            {
                Write(SmtpStateTable.RefusalCode, SmtpStateTable.RefusalEnhancedCode, refusal!);
                return CountError();
            }
            switch (command)
            {
                case SmtpCommand.Hello hello:
                    ResetTransaction();
                    _state = SmtpState.Ready;
                    if (hello.Kind == SmtpVerb.Helo)
                    {
                        Write(250, null, _door._hostName);
                    }
                    else
                    {
                        var lines = new List<string>
                        {
                            _door._hostName,
                            "PIPELINING",
                            "SIZE " + Options.MaxMessageSize.ToString(CultureInfo.InvariantCulture),
                            "8BITMIME",
                            "SMTPUTF8",
                            "ENHANCEDSTATUSCODES",
                            "DSN",
                        };
                        lines.AddRange(XforwardKeyword);
                        SmtpReplyWriter.Write(250, null, lines, _output);
                    }
                    return Next.Continue;
                case SmtpCommand.Mail mail:
                    return Mail(mail);
                case SmtpCommand.Rcpt rcpt:
                    return Rcpt(rcpt);
                case SmtpCommand.Xforward xforward:
                    ApplyXforward(xforward);
                    Write(250, "2.0.0", "Ok");
                    return Next.Continue;
                case SmtpCommand.Vrfy:
                    Write(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
                    return Next.Continue;
                default:
                    switch (verb)
                    {
                        case SmtpVerb.Data:
                            Write(354, null, "End data with <CR><LF>.<CR><LF>");
                            return Next.Data;
                        case SmtpVerb.Rset:
                            ResetTransaction();
                            Write(250, "2.0.0", "Ok");
                            return Next.Continue;
                        case SmtpVerb.Quit:
                            Write(221, "2.0.0", "Bye");
                            return Next.Close;
                        case SmtpVerb.Help:
                            Write(214, "2.0.0", (_door._lmtp ? "LHLO" : "EHLO HELO") + " MAIL RCPT DATA RSET NOOP QUIT VRFY HELP XFORWARD");
                            return Next.Continue;
                        default:
                            Write(250, "2.0.0", "Ok");
                            return Next.Continue;
                    }
            }
        }

        private Next Mail(SmtpCommand.Mail mail)
        {
            if (mail.Size is long size && size > Options.MaxMessageSize)
            {
                Write(552, "5.3.4", "Message size exceeds fixed limit");
                return Next.Continue;
            }
            if (!mail.SmtpUtf8 && SmtpCommandParser.IsNonAscii(mail.ReversePath))
            {
                Write(553, "5.6.7", "Non-ASCII sender address requires SMTPUTF8");
                return CountError();
            }
            var envelope = new Envelope { MailFrom = mail.ReversePath, Client = _xforward ?? ClientInfo.Unknown };
            envelope.MailParameters.AddRange(mail.Parameters);
            _envelope = envelope;
            _smtpUtf8 = mail.SmtpUtf8;
            _state = SmtpState.MailGiven;
            Write(250, "2.1.0", "Ok");
            return Next.Continue;
        }

        private Next Rcpt(SmtpCommand.Rcpt rcpt)
        {
            if (_envelope!.Recipients.Count >= Options.MaxRecipients)
            {
                Write(452, "4.5.3", "Error: too many recipients");
                return Next.Continue;
            }
            if (!_smtpUtf8 && SmtpCommandParser.IsNonAscii(rcpt.ForwardPath))
            {
                Write(553, "5.6.7", "Non-ASCII recipient address requires SMTPUTF8");
                return CountError();
            }
            _envelope.Recipients.Add(new EnvelopeRecipient(rcpt.ForwardPath, rcpt.Parameters));
            _state = SmtpState.RcptGiven;
            Write(250, "2.1.5", "Ok");
            return Next.Continue;
        }

        private void ApplyXforward(SmtpCommand.Xforward command)
        {
            ClientInfo c = _xforward ?? ClientInfo.Unknown;
            foreach (XforwardAttribute a in command.Attributes)
            {
                string? v = a.Value;
                c = a.Name switch
                {
                    "NAME" => c with { Name = v },
                    "ADDR" => c with { Address = v is null ? null : IPAddress.Parse(v) },
                    "PORT" => c with { Port = v is null ? null : int.Parse(v, CultureInfo.InvariantCulture) },
                    "PROTO" => c with { Protocol = v },
                    "HELO" => c with { Helo = v },
                    "IDENT" => c with { Ident = v },
                    "SOURCE" => c with { Source = v },
                    _ => c,
                };
            }
            _xforward = c;
        }

        private Next Refuse(SmtpError error)
        {
            SmtpReplyWriter.Write(error, _output);
            return CountError();
        }

        private Next CountError()
        {
            if (++_errors >= Options.MaxErrors)
            {
                Write(421, "4.7.0", $"{_door._hostName} Error: too many errors");
                return Next.Close;
            }
            return Next.Continue;
        }

        private void ResetTransaction()
        {
            _envelope = null;
            _xforward = null;
            _smtpUtf8 = false;
            if (_state != SmtpState.Connected)
            {
                _state = SmtpState.Ready;
            }
        }

        // ---- data phase ----------------------------------------------------------------------------------------

        /// <summary>Receives DATA into the spool, then checks, delivers and answers. False when the session must end.</summary>
        private async Task<bool> ReceiveMessageAsync()
        {
            long start = _door._time.GetTimestamp();
            DateTimeOffset received = _door._time.GetUtcNow();
            string mailId = MailId.New();
            Envelope envelope = _envelope!;
            _decoder.Reset();
            bool oversize = false;
            bool runaway = false;
            Exception? spoolError = null;
            MessageSpool spool = new(_door._spool, mailId);
            using var deadline = new CancellationTokenSource(Options.DataDeadline, _door._time);
            try
            {
                while (true)
                {
                    ReadResult result = await ReadAsync(Options.DataTimeout, stopOnShutdown: false, deadline.Token).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    var reader = new SequenceReader<byte>(buffer);
                    bool done = _decoder.TryRead(ref reader, _decoded);
                    if (done)
                    {
                        _input.AdvanceTo(reader.Position); // pipelined commands may follow the dot
                    }
                    else
                    {
                        _input.AdvanceTo(reader.Position, buffer.End);
                    }
                    if (_decoded.WrittenCount > 0)
                    {
                        if (_decoder.DecodedLength > Options.MaxMessageSize)
                        {
                            oversize = true; // keep reading to the end of DATA, then answer 552
                            runaway = _decoder.DecodedLength > Options.MaxMessageSize * 2 && !done;
                        }
                        else if (spoolError is null)
                        {
                            try
                            {
                                await spool.WriteAsync(_decoded.WrittenMemory, _aborted).ConfigureAwait(false);
                            }
                            catch (Exception ex) when (ex is not OperationCanceledException)
                            {
                                spoolError = ex; // e.g. disk full: read to the end, then 451
                            }
                        }
                        _decoded.ResetWrittenCount();
                    }
                    if (done)
                    {
                        break;
                    }
                    if (runaway)
                    {
                        // Twice the limit and still no dot: answer now and hang up instead of discarding forever.
                        Log.DataRunaway(Logger, _connection.Id, mailId, _decoder.DecodedLength, Options.MaxMessageSize);
                        break;
                    }
                    if (result.IsCompleted)
                    {
                        Log.ClientClosedInData(Logger, _connection.Id, mailId, _decoder.DecodedLength);
                        await spool.DisposeAsync().ConfigureAwait(false);
                        return false;
                    }
                }
            }
            catch (SessionClosedException ex)
            {
                // Timeout, DATA deadline: nothing was accepted, so no audit record; Postfix still has the message.
                Log.DataAbandoned(Logger, _connection.Id, mailId, _decoder.DecodedLength, ex.Message);
                await spool.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            catch
            {
                await spool.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            if (_decoder.BareLineFeeds > 0 || _decoder.BareCarriageReturns > 0)
            {
                Log.BareLineEnds(Logger, mailId, _decoder.BareLineFeeds, _decoder.BareCarriageReturns);
            }
            long size = _decoder.DecodedLength;
            var timings = new Dictionary<string, double>(StringComparer.Ordinal) { ["receive"] = _door._time.GetElapsedTime(start).TotalMilliseconds };
            Finished finished = await FinishMessageAsync(mailId, envelope, spool, received, oversize, spoolError, size, timings).ConfigureAwait(false);

            // The audit record is written when the reply is decided (so it exists even if the client vanishes now).
            double elapsed = _door._time.GetElapsedTime(start).TotalMilliseconds;
            _door._audit.Write(SmtpProxyAudit.Build(
                _door._time.GetUtcNow(), mailId, _door._listener.Name, _door._lmtp ? "lmtp" : "smtp", envelope, _door.DirectionWord(envelope),
                finished.Context, finished.Verdict, finished.Outcome, finished.Category, size, finished.QueuedAs,
                string.Join(" / ", finished.Replies.Select(ProxyReply.Format)), finished.Reason, elapsed, finished.Context?.Timings ?? timings));
            ResetTransaction();
            try
            {
                foreach (Reply r in finished.Replies)
                {
                    Write(r.Code, string.IsNullOrEmpty(r.EnhancedCode) ? null : r.EnhancedCode, r.Text);
                }
                await FlushAsync().ConfigureAwait(false);
            }
            finally
            {
                // The spool goes only after the reply was written (or the client vanished): Postfix held its copy until then.
                await spool.DisposeAsync().ConfigureAwait(false);
            }
            bool keepGoing = !finished.Close && !runaway;
            return keepGoing;
        }

        private sealed record Finished(
            IReadOnlyList<Reply> Replies,
            SmtpProxyAudit.Outcome Outcome,
            string Category,
            MessageContext? Context,
            Verdict? Verdict,
            string? QueuedAs,
            string? Reason,
            bool Close = false);

        /// <summary>Everything after the final dot. Never throws: every failure becomes a 4xx reply.</summary>
        private async Task<Finished> FinishMessageAsync(string mailId, Envelope envelope, MessageSpool spool, DateTimeOffset received, bool oversize, Exception? spoolError, long size, Dictionary<string, double> timings)
        {
            string host = _door._hostName;
            int count = envelope.Recipients.Count;
            MessageContext? context = null;
            Verdict? verdict = null;
            using var budget = new CancellationTokenSource(Options.MessageTimeout, _door._time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(budget.Token, _aborted);
            try
            {
                if (oversize)
                {
                    var tooBig = new Reply(552, "5.3.4", "Message size exceeds fixed limit");
                    return new Finished(Many(tooBig, count), SmtpProxyAudit.Outcome.Rejected, "OVERSIZED", null, null, null, $"size over {Options.MaxMessageSize}");
                }
                if (spoolError is not null)
                {
                    throw new IOException("spool write failed: " + spoolError.Message, spoolError);
                }
                await spool.CompleteAsync(linked.Token).ConfigureAwait(false);
                MessageHeaders headers = spool.ReadHeaders(Options.MaxHeaderBytes);
                context = new MessageContext(mailId, envelope, spool, headers, _door._policy, _door._lmtp ? FrontDoor.Lmtp : FrontDoor.Smtp, received)
                {
                    Direction = _door._listener.Direction,
                };
                foreach (KeyValuePair<string, double> t in timings)
                {
                    context.Timings[t.Key] = t.Value;
                }
                verdict = await _door._pipeline.RunAsync(context, linked.Token).ConfigureAwait(false);
                if (verdict.Quarantine)
                {
                    verdict.QuarantineId = await _door._quarantine.StoreAsync(context, verdict, linked.Token).ConfigureAwait(false);
                }
                switch (verdict.Action)
                {
                    case VerdictAction.Deliver:
                        return await DeliverAsync(context, verdict, linked.Token).ConfigureAwait(false);
                    case VerdictAction.Discard:
                        Reply discard = ProxyReply.Coerce(verdict.Reply, 2, new Reply(250, "2.7.0", $"Ok, discarded, id={mailId} - {verdict.CategoryText}"));
                        return new Finished(Many(discard, count), SmtpProxyAudit.Outcome.Discarded, verdict.CategoryText, context, verdict, null, verdict.Reason);
                    case VerdictAction.Reject:
                        Reply reject = ProxyReply.Coerce(verdict.Reply, 5, new Reply(554, "5.7.1", $"Rejected, id={mailId} - {verdict.CategoryText}"));
                        return new Finished(Many(reject, count), SmtpProxyAudit.Outcome.Rejected, verdict.CategoryText, context, verdict, null, verdict.Reason);
                    default:
                        Reply temp = ProxyReply.Coerce(verdict.Reply, 4, new Reply(451, "4.3.0", $"Temporary failure, id={mailId}, try again later"));
                        return new Finished(Many(temp, count), SmtpProxyAudit.Outcome.TempFailed, verdict.CategoryText, context, verdict, null, verdict.Reason);
                }
            }
            catch (OperationCanceledException) when (budget.IsCancellationRequested && !_aborted.IsCancellationRequested)
            {
                Log.MessageTimedOut(Logger, mailId, Options.MessageTimeout.TotalSeconds);
                var r = new Reply(451, "4.4.7", $"Error in processing, id={mailId}, message processing timed out");
                return new Finished(Many(r, count), SmtpProxyAudit.Outcome.TempFailed, verdict?.CategoryText ?? "UNCHECKED", context, verdict, null, "message timeout");
            }
            catch (OperationCanceledException) when (_aborted.IsCancellationRequested)
            {
                var r = new Reply(421, "4.3.2", $"{host} Service shutting down, id={mailId}, try again later");
                return new Finished(new[] { r }, SmtpProxyAudit.Outcome.TempFailed, verdict?.CategoryText ?? "UNCHECKED", context, verdict, null, "shutdown", Close: true);
            }
            catch (Exception ex)
            {
                Log.TransactionFailed(Logger, mailId, ex);
                var r = new Reply(451, "4.3.0", $"Error in processing, id={mailId}, try again later");
                return new Finished(Many(r, count), SmtpProxyAudit.Outcome.TempFailed, "UNCHECKED", context, verdict, null, ex.GetType().Name + ": " + ex.Message);
            }
        }

        /// <summary>Hands the message to the next hop and maps its answer (PROTOCOLS.md §1 "Replying at the final dot").</summary>
        private async Task<Finished> DeliverAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken)
        {
            Envelope envelope = context.Envelope;
            string mailId = context.MailId;
            long start = _door._time.GetTimestamp();
            DeliveryOutcome outcome = await _door._nextHop.DeliverAsync(envelope, context.Spool, context.Headers, verdict.Edits, cancellationToken).ConfigureAwait(false);
            context.Timings["next-hop"] = _door._time.GetElapsedTime(start).TotalMilliseconds;
            string peer = outcome.Peer ?? "next hop";
            string category = verdict.CategoryText;

            if (_door._lmtp)
            {
                return DeliverLmtp(context, verdict, outcome, peer);
            }

            // No per-recipient evidence means we do not know what happened: temporary.
            if (outcome.AnyTransient || outcome.Recipients.Count == 0 || !outcome.AnyAccepted)
            {
                FilterMetrics.ReinjectionFailures.Add(1, new KeyValuePair<string, object?>("listener", _door._listener.Name));
            }
            if (outcome.AnyTransient || outcome.Recipients.Count == 0)
            {
                Reply failing = outcome.Final.IsTransient || outcome.Recipients.Count == 0 ? outcome.Final : outcome.Recipients.First(r => r.Reply.IsTransient).Reply;
                var r = new Reply(451, ProxyReply.EnhancedOr(failing, 4, "4.5.0"), $"Error in processing, id={mailId}, from MTA({peer}): {ProxyReply.Format(failing)}");
                return new Finished(new[] { r }, SmtpProxyAudit.Outcome.TempFailed, category, context, verdict, null, "next hop: " + ProxyReply.Format(failing));
            }
            if (!outcome.AnyAccepted)
            {
                Reply failing = outcome.Final.IsPermanent ? outcome.Final : outcome.Recipients.FirstOrDefault(r => r.Reply.IsPermanent)?.Reply ?? outcome.Final;
                Reply r = failing.IsPermanent
                    ? new Reply(failing.Code, ProxyReply.EnhancedOr(failing, 5, "5.0.0"), $"from MTA({peer}): {ProxyReply.Format(failing)}")
                    : new Reply(451, "4.5.0", $"Error in processing, id={mailId}, from MTA({peer}): {ProxyReply.Format(failing)}");
                return new Finished(new[] { r }, failing.IsPermanent ? SmtpProxyAudit.Outcome.Rejected : SmtpProxyAudit.Outcome.TempFailed, "MTA-BLOCKED", context, verdict, null, "next hop: " + ProxyReply.Format(failing));
            }
            List<RecipientOutcome> refused = outcome.Recipients.Where(r => !r.Accepted).ToList();
            if (refused.Count > 0 && !envelope.IsNullSender)
            {
                // Throws on failure: the caller answers 451 (a lost bounce is lost mail; a duplicate is not).
                await _door._dsn.SendFailureNoticeAsync(context, refused, cancellationToken).ConfigureAwait(false);
            }
            var ok = new Reply(250, "2.0.0", $"from MTA({peer}): {ProxyReply.Format(outcome.Final)}");
            return new Finished(new[] { ok }, SmtpProxyAudit.Outcome.Relayed, category, context, verdict, outcome.QueuedAs,
                refused.Count > 0 ? $"{refused.Count} recipient(s) refused by next hop" : null);
        }

        private Finished DeliverLmtp(MessageContext context, Verdict verdict, DeliveryOutcome outcome, string peer)
        {
            Envelope envelope = context.Envelope;
            var replies = new List<Reply>(envelope.Recipients.Count);
            bool anyAccepted = false;
            bool anyTransient = false;
            for (int i = 0; i < envelope.Recipients.Count; i++)
            {
                EnvelopeRecipient rcpt = envelope.Recipients[i];
                RecipientOutcome? r = outcome.Recipients.Count == envelope.Recipients.Count
                    ? outcome.Recipients[i]
                    : outcome.Recipients.FirstOrDefault(x => string.Equals(x.Recipient.Address, rcpt.Address, StringComparison.OrdinalIgnoreCase));
                Reply reply;
                if (r is null || r.Reply.IsTransient || outcome.Final.IsTransient || (r.Accepted && !outcome.Final.IsPermanent && outcome.Final.Code / 100 != 2))
                {
                    Reply failing = r is not null && r.Reply.IsTransient ? r.Reply : outcome.Final;
                    reply = new Reply(451, ProxyReply.EnhancedOr(failing, 4, "4.5.0"), $"<{rcpt.Address}>: Error in processing, id={context.MailId}, from MTA({peer}): {ProxyReply.Format(failing)}");
                    anyTransient = true;
                }
                else if (!r.Accepted)
                {
                    reply = new Reply(r.Reply.Code, ProxyReply.EnhancedOr(r.Reply, 5, "5.0.0"), $"<{rcpt.Address}>: from MTA({peer}): {ProxyReply.Format(r.Reply)}");
                }
                else if (outcome.Final.IsPermanent)
                {
                    reply = new Reply(outcome.Final.Code, ProxyReply.EnhancedOr(outcome.Final, 5, "5.0.0"), $"<{rcpt.Address}>: from MTA({peer}): {ProxyReply.Format(outcome.Final)}");
                }
                else
                {
                    reply = new Reply(250, "2.0.0", $"<{rcpt.Address}>: from MTA({peer}): {ProxyReply.Format(outcome.Final)}");
                    anyAccepted = true;
                }
                replies.Add(reply);
            }
            SmtpProxyAudit.Outcome o = anyAccepted ? SmtpProxyAudit.Outcome.Relayed : anyTransient ? SmtpProxyAudit.Outcome.TempFailed : SmtpProxyAudit.Outcome.Rejected;
            return new Finished(replies, o, anyAccepted || anyTransient ? verdict.CategoryText : "MTA-BLOCKED", context, verdict, outcome.QueuedAs, null);
        }

        /// <summary>SMTP gives one reply for the transaction; LMTP one per accepted recipient (RFC 2033 §4.2).</summary>
        private IReadOnlyList<Reply> Many(Reply reply, int recipients) =>
            _door._lmtp ? Enumerable.Repeat(reply, Math.Max(1, recipients)).ToList() : new[] { reply };

        // ---- I/O -----------------------------------------------------------------------------------------------

        private void Write(int code, string? enhanced, string text) => SmtpReplyWriter.Write(code, enhanced, text, _output);

        private async ValueTask<ReadResult> ReadAsync(TimeSpan timeout, bool stopOnShutdown, CancellationToken deadline = default, TimeSpan? reportedTimeout = null)
        {
            using var timer = new CancellationTokenSource(timeout, _door._time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, _aborted, stopOnShutdown ? _connection.Stopping : deadline);
            try
            {
                return await _input.ReadAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !_aborted.IsCancellationRequested)
            {
                Log.DataDeadlinePassed(Logger, _connection.Id, Options.DataDeadline.TotalSeconds);
                await TryWriteFinalAsync(421, "4.4.2", $"{_door._hostName} Error: timeout exceeded, DATA took longer than {Options.DataDeadline.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s").ConfigureAwait(false);
                throw new SessionClosedException("DATA deadline");
            }
            catch (OperationCanceledException) when (timer.IsCancellationRequested && !_aborted.IsCancellationRequested)
            {
                Log.Timeout(Logger, _connection.Id, _state.ToString(), (reportedTimeout ?? timeout).TotalSeconds);
                await TryWriteFinalAsync(421, "4.4.2", $"{_door._hostName} Error: timeout exceeded").ConfigureAwait(false);
                throw new SessionClosedException("timeout");
            }
            catch (OperationCanceledException) when (stopOnShutdown && _connection.Stopping.IsCancellationRequested && !_aborted.IsCancellationRequested)
            {
                await TryWriteFinalAsync(421, "4.3.2", $"{_door._hostName} Service shutting down, closing transmission channel").ConfigureAwait(false);
                throw new SessionClosedException("shutdown");
            }
        }

        private async ValueTask FlushAsync()
        {
            using var timer = new CancellationTokenSource(Options.CommandTimeout, _door._time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, _aborted);
            FlushResult result;
            try
            {
                result = await _output.FlushAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timer.IsCancellationRequested && !_aborted.IsCancellationRequested)
            {
                throw new SessionClosedException("client does not read its replies");
            }
            if (result.IsCompleted)
            {
                throw new SessionClosedException("client went away");
            }
        }

        private async Task TryWriteFinalAsync(int code, string enhanced, string text)
        {
            try
            {
                Write(code, enhanced, text);
                using var timer = new CancellationTokenSource(TimeSpan.FromSeconds(10), _door._time);
                await _output.FlushAsync(timer.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or System.Net.Sockets.SocketException)
            {
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2201, Level = LogLevel.Debug, Message = "SMTP session {Connection} started, client {Client}")]
        public static partial void SessionStarted(ILogger logger, string connection, string client);

        [LoggerMessage(EventId = 2202, Level = LogLevel.Information, Message = "SMTP session {Connection}: timeout after {Seconds} s in state {State}")]
        public static partial void Timeout(ILogger logger, string connection, string state, double seconds);

        [LoggerMessage(EventId = 2203, Level = LogLevel.Debug, Message = "SMTP session {Connection}: client closed the connection in state {State}")]
        public static partial void ClientClosed(ILogger logger, string connection, string state);

        [LoggerMessage(EventId = 2204, Level = LogLevel.Warning, Message = "SMTP session {Connection}: connection lost during DATA of {MailId} after {Bytes} bytes; not delivered, no audit record, Postfix keeps the message")]
        public static partial void ClientClosedInData(ILogger logger, string connection, string mailId, long bytes);

        [LoggerMessage(EventId = 2205, Level = LogLevel.Information, Message = "Message {MailId}: {BareLf} bare LF stored as CRLF, {BareCr} bare CR kept")]
        public static partial void BareLineEnds(ILogger logger, string mailId, long bareLf, long bareCr);

        [LoggerMessage(EventId = 2206, Level = LogLevel.Error, Message = "Message {MailId}: processing failed, answered 451")]
        public static partial void TransactionFailed(ILogger logger, string mailId, Exception exception);

        [LoggerMessage(EventId = 2207, Level = LogLevel.Warning, Message = "Message {MailId}: processing took longer than {Seconds} s, answered 451")]
        public static partial void MessageTimedOut(ILogger logger, string mailId, double seconds);

        [LoggerMessage(EventId = 2208, Level = LogLevel.Debug, Message = "SMTP session {Connection} closed: {Reason}")]
        public static partial void SessionClosed(ILogger logger, string connection, string reason);

        [LoggerMessage(EventId = 2209, Level = LogLevel.Warning, Message = "SMTP session {Connection}: DATA of {MailId} abandoned after {Bytes} bytes ({Reason}); not delivered, no audit record, Postfix keeps the message")]
        public static partial void DataAbandoned(ILogger logger, string connection, string mailId, long bytes, string reason);

        [LoggerMessage(EventId = 2210, Level = LogLevel.Warning, Message = "SMTP session {Connection}: DATA deadline of {Seconds} s passed, answered 421")]
        public static partial void DataDeadlinePassed(ILogger logger, string connection, double seconds);

        [LoggerMessage(EventId = 2211, Level = LogLevel.Warning, Message = "SMTP session {Connection}: DATA of {MailId} still coming after {Bytes} bytes (twice the {Limit}-byte limit); answered 552 and closed")]
        public static partial void DataRunaway(ILogger logger, string connection, string mailId, long bytes, long limit);
    }
}
