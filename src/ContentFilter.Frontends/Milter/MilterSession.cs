using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using ContentFilter.Frontends.Transport;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Quarantine;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Milter;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Frontends.Milter;

/// <summary>
/// The milter front door (Sendmail milter protocol v6 as Postfix's milter8.c speaks it): one instance per listener,
/// one <see cref="HandleAsync"/> per MTA connection.
/// </summary>
/// <remarks>
/// Builds the same <see cref="Envelope"/> and <see cref="MessageSpool"/> as the proxy from CONNECT/HELO/MAIL/RCPT,
/// macros, header and body packets, runs the one <see cref="CheckPipeline"/> at end of message and answers with
/// <c>SMFIR_*</c> edits and one final action (<see cref="MilterReplyMapper"/>). Anything the peer does wrong (bad
/// packet, command out of order, silence mid-packet) is logged and the connection closed: Postfix then applies
/// <c>milter_default_action</c> (tempfail), so no mail is lost and nothing hangs. An internal error answers 451.
/// </remarks>
public sealed partial class MilterSession : IConnectionHandler
{
    /// <summary>The protocol version we speak.</summary>
    public const uint ProtocolVersion = 6;

    /// <summary>Actions we ask for: header edits and Postfix's hold queue.</summary>
    public const MilterActions WantedActions = MilterActions.AddHeaders | MilterActions.ChangeHeaders | MilterActions.Quarantine;

    /// <summary>
    /// Protocol bits we ask for (intersected with the MTA's offer): no UNKNOWN or DATA events, no replies where we
    /// always continue (saves a round trip per header and body chunk), and header values with their leading space
    /// so the spool holds the original bytes for DKIM.
    /// </summary>
    public const MilterProtocol WantedProtocol = MilterProtocol.NoUnknown | MilterProtocol.NoData
        | MilterProtocol.NoReplyConnect | MilterProtocol.NoReplyHelo | MilterProtocol.NoReplyMail | MilterProtocol.NoReplyRcpt
        | MilterProtocol.NoReplyHeader | MilterProtocol.NoReplyEndOfHeaders | MilterProtocol.NoReplyBody
        | MilterProtocol.NoReplyData | MilterProtocol.NoReplyUnknown | MilterProtocol.HeaderLeadingSpace;

    /// <summary>Macros we ask for per stage (PROTOCOLS.md §2: only listed or default macros are sent).</summary>
    public static readonly IReadOnlyList<KeyValuePair<MilterMacroStage, string>> WantedMacros =
    [
        new(MilterMacroStage.Connect, "j _ {daemon_name} {daemon_addr} {client_addr} {client_name} {client_port}"),
        new(MilterMacroStage.EnvFrom, "i {auth_type} {auth_authen}"),
        new(MilterMacroStage.EnvRcpt, "i"),
        new(MilterMacroStage.EndOfMessage, "i"),
    ];

    private static readonly MilterCommandCode[] MacroLookupOrder =
    [
        MilterCommandCode.BodyEob, MilterCommandCode.EndOfHeaders, MilterCommandCode.Header, MilterCommandCode.Data,
        MilterCommandCode.Rcpt, MilterCommandCode.Mail, MilterCommandCode.Helo, MilterCommandCode.Connect,
    ];

    private readonly MilterOptions _options;
    private readonly CheckPipeline _pipeline;
    private readonly SpoolOptions _spool;
    private readonly IAuditSink _audit;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ListenerPolicy _inbound;
    private readonly ListenerPolicy _originating;
    private readonly IGreylist? _greylist;
    private readonly IQuarantineStore? _quarantine;
    private readonly MilterPacketReader _reader;

    /// <summary>Creates the door.</summary>
    /// <param name="options">Limits and behaviour.</param>
    /// <param name="pipeline">The check pipeline.</param>
    /// <param name="spool">Where message bytes go while checked.</param>
    /// <param name="audit">Receives one record per message.</param>
    /// <param name="time">Clock for timeouts and progress packets.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="inbound">Policy for inbound mail on this listener (default: all checks, inbound).</param>
    /// <param name="originating">Policy for mail with SMTP AUTH or the originating daemon name (default: <paramref name="inbound"/> as originating).</param>
    /// <param name="greylist">Greylisting asked at RCPT when <see cref="MilterOptions.GreylistAtRcpt"/> is set.</param>
    /// <param name="quarantine">Store for quarantined messages, if any.</param>
    public MilterSession(MilterOptions options, CheckPipeline pipeline, SpoolOptions spool, IAuditSink audit, TimeProvider time, ILogger<MilterSession> logger,
        ListenerPolicy? inbound = null, ListenerPolicy? originating = null, IGreylist? greylist = null, IQuarantineStore? quarantine = null)
    {
        options.Validate();
        _options = options;
        _pipeline = pipeline;
        _spool = spool;
        _audit = audit;
        _time = time;
        _logger = logger;
        _inbound = inbound ?? new ListenerPolicy { Name = "milter", Direction = MessageDirection.Inbound };
        _originating = originating ?? _inbound with { Direction = MessageDirection.Originating };
        _greylist = greylist;
        _quarantine = quarantine;
        _reader = new MilterPacketReader(new MilterLimits { MaxPacketSize = options.MaxPacketSize });
    }

    /// <inheritdoc />
    public async Task HandleAsync(ConnectionContext connection, CancellationToken aborted)
    {
        var state = new State(connection);
        PipeReader input = connection.Transport.Input;
        PipeWriter output = connection.Transport.Output;
        try
        {
            await RunAsync(state, input, output, aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            Log.Aborted(_logger, connection.Id);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log.ConnectionLost(_logger, connection.Id, ex.Message);
        }
        catch (Exception ex)
        {
            Log.SessionFailed(_logger, connection.Id, ex);
        }
        finally
        {
            await state.EndTransactionAsync().ConfigureAwait(false);
            await input.CompleteAsync().ConfigureAwait(false);
            await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task RunAsync(State state, PipeReader input, PipeWriter output, CancellationToken aborted)
    {
        using var guard = new ReadGuard(input, _time, state.Connection.Stopping);
        while (true)
        {
            bool midPacket = state.Buffered > 0;
            TimeSpan timeout = midPacket ? _options.PacketTimeout : _options.IdleTimeout;
            bool idle = state.Phase is Phase.Negotiating or Phase.Idle && !midPacket;
            guard.Arm(timeout, idle);
            ReadResult result;
            try
            {
                // Checked after arming: a stop that comes later cancels the read through the guard. Between
                // messages a stop closes the connection, unless Postfix has already sent more (with SMFIP_NR_* it
                // sends MAIL, RCPT and the headers without waiting): that transaction is finished first.
                if (idle && state.Connection.Stopping.IsCancellationRequested)
                {
                    bool read = input.TryRead(out result);
                    if (!read || result.Buffer.IsEmpty)
                    {
                        if (read)
                        {
                            input.AdvanceTo(result.Buffer.Start);
                        }
                        Log.Stopping(_logger, state.Connection.Id);
                        return;
                    }
                }
                else
                {
                    result = await input.ReadAsync(aborted).ConfigureAwait(false);
                }
            }
            finally
            {
                guard.Disarm();
            }
            if (result.IsCanceled)
            {
                if (guard.TimedOut)
                {
                    Log.Timeout(_logger, state.Connection.Id, midPacket ? "in the middle of a packet" : "between packets", timeout.TotalSeconds, state.Buffered);
                    return;
                }
                if (idle && state.Connection.Stopping.IsCancellationRequested && result.Buffer.IsEmpty)
                {
                    Log.Stopping(_logger, state.Connection.Id);
                    return;
                }
                // Otherwise a timer or a stop that came just as the previous read completed, or a stop with the
                // next transaction's packets already here: read on.
            }

            ReadOnlySequence<byte> buffer = result.Buffer;
            ReadOnlySequence<byte> unread = buffer;
            bool close = false;
            while (!close)
            {
                if (TryParseBody(ref unread, out ReadOnlySequence<byte> chunk))
                {
                    // The chunk points into the pipe's buffer, which is advanced only after the loop.
                    close = !await BodyAsync(state, chunk, output, aborted).ConfigureAwait(false);
                    continue;
                }
                if (!TryParse(ref unread, out MilterCommand command, out MilterError error))
                {
                    if (error != MilterError.None)
                    {
                        Log.BadPacket(_logger, state.Connection.Id, error, DescribePrefix(unread));
                        close = true;
                    }
                    break;
                }
                close = !await HandleCommandAsync(state, command, output, aborted).ConfigureAwait(false);
            }
            state.Buffered = unread.Length;
            input.AdvanceTo(unread.Start, buffer.End);
            if (close)
            {
                return;
            }
            if (result.IsCompleted)
            {
                if (state.Buffered > 0)
                {
                    Log.ClosedMidPacket(_logger, state.Connection.Id, state.Buffered);
                }
                else if (state.Phase != Phase.Negotiating)
                {
                    Log.ClosedWithoutQuit(_logger, state.Connection.Id);
                }
                return;
            }
        }
    }

    private bool TryParseBody(ref ReadOnlySequence<byte> unread, out ReadOnlySequence<byte> chunk)
    {
        var reader = new SequenceReader<byte>(unread);
        if (!_reader.TryReadBody(ref reader, out chunk))
        {
            return false;
        }
        unread = reader.UnreadSequence;
        return true;
    }

    private bool TryParse(ref ReadOnlySequence<byte> unread, out MilterCommand command, out MilterError error)
    {
        var reader = new SequenceReader<byte>(unread);
        if (!_reader.TryRead(ref reader, out command, out error))
        {
            return false;
        }
        unread = reader.UnreadSequence;
        return true;
    }

    /// <summary>Handles one command; false closes the connection.</summary>
    private async ValueTask<bool> HandleCommandAsync(State state, MilterCommand command, PipeWriter output, CancellationToken aborted)
    {
        if (!IsAllowed(state.Phase, command.Code))
        {
            Log.OutOfOrder(_logger, state.Connection.Id, command.Code, state.Phase);
            return false;
        }
        switch (command)
        {
            case MilterCommand.OptNeg o:
                return await NegotiateAsync(state, o, output).ConfigureAwait(false);

            case MilterCommand.Macro m:
                state.SetMacros(m);
                return true;

            case MilterCommand.Connect c:
                state.Host = c.Host;
                state.Family = c.Family;
                state.Port = c.Family is '4' or '6' ? c.Port : null;
                state.Address = c.Family is '4' or '6' && IPAddress.TryParse(c.Address, out IPAddress? ip) ? ip : null;
                return await ContinueUnlessAsync(state, MilterProtocol.NoReplyConnect, output).ConfigureAwait(false);

            case MilterCommand.Helo h:
                state.Helo = h.Name;
                return await ContinueUnlessAsync(state, MilterProtocol.NoReplyHelo, output).ConfigureAwait(false);

            case MilterCommand.Mail mail:
                state.BeginTransaction(_spool, _time.GetUtcNow());
                state.Envelope!.MailFrom = StripBrackets(mail.Address);
                state.Envelope.MailParameters.AddRange(mail.Parameters);
                return await ContinueUnlessAsync(state, MilterProtocol.NoReplyMail, output).ConfigureAwait(false);

            case MilterCommand.Rcpt rcpt:
                return await RcptAsync(state, rcpt, output, aborted).ConfigureAwait(false);

            case MilterCommand.Data:
                return await ContinueUnlessAsync(state, MilterProtocol.NoReplyData, output).ConfigureAwait(false);

            case MilterCommand.Header header:
                state.Phase = Phase.Content;
                await state.Spool!.WriteAsync(HeaderBytes(header, state.LeadingSpace), aborted).ConfigureAwait(false);
                return await ContinueUnlessAsync(state, MilterProtocol.NoReplyHeader, output).ConfigureAwait(false);

            case MilterCommand.EndOfHeaders:
                state.Phase = Phase.Content;
                await state.EndHeadersAsync(aborted).ConfigureAwait(false);
                return await ContinueUnlessAsync(state, MilterProtocol.NoReplyEndOfHeaders, output).ConfigureAwait(false);

            case MilterCommand.Body body:
                return await BodyAsync(state, new ReadOnlySequence<byte>(body.Chunk), output, aborted).ConfigureAwait(false);

            case MilterCommand.BodyEob eob:
                await EndOfMessageAsync(state, eob, output, aborted).ConfigureAwait(false);
                return true;

            case MilterCommand.Abort:
                await state.EndTransactionAsync().ConfigureAwait(false);
                state.ClearMessageMacros();
                state.Phase = Phase.Idle;
                return true;

            case MilterCommand.Unknown:
                return await ContinueUnlessAsync(state, MilterProtocol.NoReplyUnknown, output).ConfigureAwait(false);

            case MilterCommand.QuitNewConnection:
                await state.EndTransactionAsync().ConfigureAwait(false);
                state.ResetConnection();
                return true;

            case MilterCommand.Quit:
            default:
                return false;
        }
    }

    /// <summary>One body chunk into the spool; false closes the connection (out of order).</summary>
    private async ValueTask<bool> BodyAsync(State state, ReadOnlySequence<byte> chunk, PipeWriter output, CancellationToken aborted)
    {
        if (!IsAllowed(state.Phase, MilterCommandCode.Body))
        {
            Log.OutOfOrder(_logger, state.Connection.Id, MilterCommandCode.Body, state.Phase);
            return false;
        }
        state.Phase = Phase.Content;
        await state.EndHeadersAsync(aborted).ConfigureAwait(false);
        foreach (ReadOnlyMemory<byte> segment in chunk)
        {
            await state.Spool!.WriteAsync(segment, aborted).ConfigureAwait(false);
        }
        return await ContinueUnlessAsync(state, MilterProtocol.NoReplyBody, output).ConfigureAwait(false);
    }

    /// <summary>The protocol state table: which command may come in which phase.</summary>
    internal static bool IsAllowed(Phase phase, MilterCommandCode code) => code switch
    {
        MilterCommandCode.OptNeg => phase == Phase.Negotiating,
        MilterCommandCode.Quit => true,
        _ when phase == Phase.Negotiating => false,
        MilterCommandCode.Macro or MilterCommandCode.Abort or MilterCommandCode.QuitNewConnection => true,
        MilterCommandCode.Connect or MilterCommandCode.Helo or MilterCommandCode.Mail => phase == Phase.Idle,
        MilterCommandCode.Unknown => phase is Phase.Idle or Phase.Envelope,
        MilterCommandCode.Rcpt or MilterCommandCode.Data => phase == Phase.Envelope,
        MilterCommandCode.Header or MilterCommandCode.EndOfHeaders or MilterCommandCode.Body or MilterCommandCode.BodyEob => phase is Phase.Envelope or Phase.Content,
        _ => false,
    };

    private async ValueTask<bool> NegotiateAsync(State state, MilterCommand.OptNeg offer, PipeWriter output)
    {
        if (offer.Version < 2)
        {
            Log.BadVersion(_logger, state.Connection.Id, offer.Version);
            return false;
        }
        state.Version = Math.Min(offer.Version, ProtocolVersion);
        bool sendMacros = _options.RequestMacros && state.Version >= 6 && (offer.Actions & MilterActions.SetSymbolList) != 0;
        MilterActions actions = (WantedActions | (sendMacros ? MilterActions.SetSymbolList : MilterActions.None)) & offer.Actions;
        MilterProtocol wanted = WantedProtocol;
        if (_greylist is not null && _options.GreylistAtRcpt)
        {
            wanted &= ~MilterProtocol.NoReplyRcpt;
        }
        MilterProtocol protocol = wanted & offer.Protocol;
        state.Actions = actions;
        state.Protocol = protocol;
        if ((actions & (MilterActions.AddHeaders | MilterActions.ChangeHeaders)) != (MilterActions.AddHeaders | MilterActions.ChangeHeaders))
        {
            Log.ActionsMissing(_logger, state.Connection.Id, offer.Actions);
        }
        Log.Negotiated(_logger, state.Connection.Id, state.Version, actions, protocol);
        state.Phase = Phase.Idle;
        await SendAsync(output, new MilterReply.OptNeg(state.Version, actions, protocol, sendMacros ? WantedMacros : [])).ConfigureAwait(false);
        return true;
    }

    private async ValueTask<bool> RcptAsync(State state, MilterCommand.Rcpt rcpt, PipeWriter output, CancellationToken aborted)
    {
        string address = StripBrackets(rcpt.Address);
        if (_greylist is not null && _options.GreylistAtRcpt && Direction(state) == MessageDirection.Inbound && ClientAddress(state) is IPAddress client)
        {
            GreylistDecision decision;
            try
            {
                decision = await _greylist.CheckAsync(new GreylistRequest(client, ClientName(state) ?? "unknown", state.Envelope!.MailFrom, address, state.MailId, state.Helo), aborted).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !aborted.IsCancellationRequested)
            {
                Log.GreylistFailed(_logger, state.Connection.Id, ex);
                await SendAsync(output, new MilterReply.ReplyCode(MilterReplyMapper.FormatReply(new Reply(451, "4.3.0", "Greylisting temporarily unavailable, try again later")))).ConfigureAwait(false);
                return true;
            }
            WriteGreylistAudit(state, client, address, decision);
            if (decision.Action == GreylistAction.Defer)
            {
                Log.GreylistDeferred(_logger, state.Connection.Id, client, state.Envelope!.MailFrom, address, decision.Reason);
                await SendAsync(output, new MilterReply.ReplyCode(GreylistReply(decision.DeferText))).ConfigureAwait(false);
                return true;
            }
            if (decision.PrependHeader is { } prepend && state.GreylistHeader is null)
            {
                state.GreylistHeader = prepend;
            }
        }
        state.Envelope!.Recipients.Add(new EnvelopeRecipient(address, rcpt.Parameters.ToList()));
        return await ContinueUnlessAsync(state, MilterProtocol.NoReplyRcpt, output).ConfigureAwait(false);
    }

    /// <summary>One record per greylisting decision, as postgrey logs it (the door writes it, not the store).</summary>
    private void WriteGreylistAudit(State state, IPAddress client, string recipient, GreylistDecision decision)
    {
        double? delay = null;
        if (decision.PrependHeader is { } header)
        {
            int at = header.IndexOf("delayed ", StringComparison.Ordinal);
            if (at >= 0)
            {
                string rest = header[(at + 8)..];
                int space = rest.IndexOf(' ', StringComparison.Ordinal);
                if (space > 0 && double.TryParse(rest[..space], NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds))
                {
                    delay = seconds;
                }
            }
        }
        try
        {
            _audit.WriteGreylist(new GreylistAuditRecord
            {
                Time = _time.GetUtcNow(),
                Action = decision.Action == GreylistAction.Defer ? "greylist" : "pass",
                Reason = decision.Reason,
                ClientName = ClientName(state) ?? "unknown",
                ClientAddress = client.ToString(),
                Sender = state.Envelope!.MailFrom,
                Recipient = recipient,
                DelaySeconds = delay,
            });
        }
        catch (Exception ex)
        {
            Log.AuditFailed(_logger, state.Connection.Id, ex);
        }
    }

    private async ValueTask EndOfMessageAsync(State state, MilterCommand.BodyEob eob, PipeWriter output, CancellationToken aborted)
    {
        long started = _time.GetTimestamp();
        MessageContext? context = null;
        Verdict verdict;
        string? failure = null;
        try
        {
            await state.EndHeadersAsync(aborted).ConfigureAwait(false);
            if (eob.Chunk.Length > 0)
            {
                await state.Spool!.WriteAsync(eob.Chunk, aborted).ConfigureAwait(false);
            }
            await state.Spool!.CompleteAsync(aborted).ConfigureAwait(false);
            state.Envelope!.Client = BuildClient(state);
            state.Envelope.AuthenticatedUser = NonEmpty(state.Macro("auth_authen"));
            MessageHeaders headers = state.Spool.ReadHeaders(_options.MaxHeaderBytes);
            MessageDirection direction = Direction(state);
            context = new MessageContext(state.MailId!, state.Envelope, state.Spool, headers, direction == MessageDirection.Originating ? _originating : _inbound, FrontDoor.Milter, state.Received)
            {
                Direction = direction,
            };
            verdict = await RunWithProgressAsync(state, context, output, aborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !aborted.IsCancellationRequested)
        {
            Log.MessageFailed(_logger, state.Connection.Id, state.MailId ?? "-", ex);
            failure = ex.GetType().Name + ": " + ex.Message;
            verdict = new Verdict { Action = VerdictAction.TempFail, Category = "UNCHECKED", Reason = "internal error: " + failure, Reply = MilterReplyMapper.DefaultTempFail };
        }

        bool stored = false;
        if (verdict.Quarantine && _quarantine is not null && context is not null)
        {
            try
            {
                verdict.QuarantineId = await _quarantine.StoreAsync(context, verdict, aborted).ConfigureAwait(false);
                stored = true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !aborted.IsCancellationRequested)
            {
                Log.QuarantineFailed(_logger, state.Connection.Id, state.MailId ?? "-", ex);
                if (verdict.Action == VerdictAction.Discard && !(_options.HoldQuarantined && (state.Actions & MilterActions.Quarantine) != 0))
                {
                    // Nowhere to keep it: a discard now would lose the message. Let Postfix keep it and retry.
                    verdict.Action = VerdictAction.TempFail;
                    verdict.Reply = new Reply(451, "4.3.0", "Temporary failure in quarantine, try again later");
                    verdict.Reason = "quarantine failed: " + ex.Message;
                }
            }
        }
        if (verdict.Action == VerdictAction.Deliver && state.GreylistHeader is { } greylistHeader)
        {
            int colon = greylistHeader.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                verdict.Edits.Add(greylistHeader[..colon].Trim(), greylistHeader[(colon + 1)..].TrimStart());
            }
        }

        bool hold = _options.HoldQuarantined && verdict.Quarantine
            && (verdict.Action == VerdictAction.Deliver || (verdict.Action == VerdictAction.Discard && !stored));
        List<MilterReply> replies = MilterReplyMapper.Map(verdict, state.Actions, state.LeadingSpace, hold);
        foreach (MilterReply reply in replies)
        {
            MilterReplyWriter.Write(reply, output);
        }

        // The record is written before the reply leaves: whoever sees Postfix act on the verdict finds it
        // already in the audit log (the MTA's own log line can come first otherwise).
        WriteAudit(state, context, verdict, replies, hold, stored, _time.GetElapsedTime(started));
        await FlushAsync(output).ConfigureAwait(false);
        await state.EndTransactionAsync().ConfigureAwait(false);
        state.ClearMessageMacros();
        state.Phase = Phase.Idle;
    }

    private async Task<Verdict> RunWithProgressAsync(State state, MessageContext context, PipeWriter output, CancellationToken aborted)
    {
        Task<Verdict> run = _pipeline.RunAsync(context, aborted);
        if (run.IsCompleted)
        {
            return await run.ConfigureAwait(false); // no checks that wait: no timer, no linked token
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        while (!run.IsCompleted)
        {
            Task tick = Task.Delay(_options.ProgressInterval, _time, stop.Token);
            Task done = await Task.WhenAny(run, tick).ConfigureAwait(false);
            if (done == run)
            {
                break;
            }
            if (tick.IsCanceled)
            {
                break;
            }
            Log.Progress(_logger, state.Connection.Id, state.MailId ?? "-");
            await SendAsync(output, MilterReply.Progress).ConfigureAwait(false);
        }
        await stop.CancelAsync().ConfigureAwait(false);
        return await run.ConfigureAwait(false);
    }

    private void WriteAudit(State state, MessageContext? context, Verdict verdict, List<MilterReply> replies, bool hold, bool stored, TimeSpan elapsed)
    {
        Envelope envelope = state.Envelope!;
        MessageDirection direction = context?.Direction ?? Direction(state);
        string action = verdict.Action switch
        {
            VerdictAction.Deliver => "Relayed",
            VerdictAction.Discard when hold => "Held",
            VerdictAction.Discard => "Discarded",
            VerdictAction.Reject => "Rejected",
            _ => "TempFailed",
        };
        action += direction == MessageDirection.Originating ? "Outbound" : "Inbound";
        if (stored || hold)
        {
            action += ",Quarantined";
        }
        MilterReply final = replies[^1];
        string replyText = final switch
        {
            MilterReply.ReplyCode r => r.Text,
            _ when final.Code == MilterReplyCode.Discard => "discard",
            _ => hold ? "hold" : "continue",
        };
        var checks = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (CheckResult r in context?.Results ?? [])
        {
            checks[r.Check] = r.Status.ToString().ToLowerInvariant();
        }
        try
        {
            _audit.Write(new AuditRecord
            {
                Time = _time.GetUtcNow(),
                MailId = state.MailId ?? "-",
                Listener = state.Connection.ListenerName,
                Door = "milter",
                Disposition = verdict.Action == VerdictAction.Deliver ? "Passed" : "Blocked",
                Category = verdict.CategoryText,
                Action = action,
                ClientAddress = envelope.Client.Address?.ToString(),
                ClientPort = envelope.Client.Port,
                ClientName = envelope.Client.Name,
                Sender = envelope.MailFrom,
                Recipients = envelope.Recipients.Select(r => r.Address).ToList(),
                QueueId = envelope.QueueId,
                MessageId = context?.Headers.Get("Message-ID"),
                Hits = verdict.Score,
                Rules = context?.Results.OfType<SpamScanResult>().FirstOrDefault()?.Rules ?? [],
                Size = state.Spool?.Length ?? 0,
                QuarantineId = verdict.QuarantineId,
                Reply = replyText,
                Reason = verdict.Reason,
                ElapsedMs = elapsed.TotalMilliseconds,
                Timings = context is null ? new Dictionary<string, double>() : new Dictionary<string, double>(context.Timings),
                Checks = checks,
                DkimValid = AuditRecord.DkimValidFrom(context?.Results ?? []),
                DkimNew = AuditRecord.DkimNewFrom(context?.Results ?? []),
            });
        }
        catch (Exception ex)
        {
            Log.AuditFailed(_logger, state.Connection.Id, ex);
        }
    }

    private async ValueTask<bool> ContinueUnlessAsync(State state, MilterProtocol noReply, PipeWriter output)
    {
        if ((state.Protocol & noReply) == 0)
        {
            await SendAsync(output, MilterReply.Continue).ConfigureAwait(false);
        }
        return true;
    }

    private static async ValueTask SendAsync(PipeWriter output, MilterReply reply)
    {
        MilterReplyWriter.Write(reply, output);
        await FlushAsync(output).ConfigureAwait(false);
    }

    private static async ValueTask FlushAsync(PipeWriter output)
    {
        FlushResult flushed = await output.FlushAsync().ConfigureAwait(false);
        if (flushed.IsCompleted)
        {
            throw new IOException("The MTA closed its side of the connection.");
        }
    }

    private MessageDirection Direction(State state)
    {
        if (NonEmpty(state.Macro("auth_authen")) is not null)
        {
            return MessageDirection.Originating;
        }
        if (_options.OriginatingDaemonName.Length > 0 && string.Equals(state.Macro("daemon_name"), _options.OriginatingDaemonName, StringComparison.Ordinal))
        {
            return MessageDirection.Originating;
        }
        return _inbound.Direction;
    }

    private static ClientInfo BuildClient(State state) => new()
    {
        Address = ClientAddress(state),
        Port = state.Port ?? (int.TryParse(state.Macro("client_port"), NumberStyles.None, CultureInfo.InvariantCulture, out int port) ? port : null),
        Name = ClientName(state),
        Helo = state.Helo,
        Ident = NonEmpty(state.Macro("i")),
    };

    private static IPAddress? ClientAddress(State state) =>
        state.Address ?? (IPAddress.TryParse(state.Macro("client_addr"), out IPAddress? ip) ? ip : null);

    /// <summary>The verified client name: CONNECT's host unless Postfix wrote the bracketed address (unknown).</summary>
    private static string? ClientName(State state)
    {
        string? name = state.Host;
        if (string.IsNullOrEmpty(name) || name.StartsWith('['))
        {
            name = state.Macro("client_name");
        }
        return string.IsNullOrEmpty(name) || name == "unknown" || name.StartsWith('[') ? null : name;
    }

    private static string GreylistReply(string? deferText)
    {
        string text = string.IsNullOrWhiteSpace(deferText) ? "Greylisted, try again later" : deferText.Trim();
        string[] words = text.Split(' ', 2);
        if (words.Length == 2 && words[0].Length >= 5 && words[0][0] == '4' && words[0][1] == '.')
        {
            return MilterReplyMapper.FormatReply(new Reply(450, words[0], words[1]));
        }
        return MilterReplyMapper.FormatReply(new Reply(450, "4.2.0", text));
    }

    /// <summary>
    /// The header field as it stood in the message: <c>Name:value</c> with CRLF line ends. Postfix joins folded lines
    /// with a bare LF; without <c>SMFIP_HDR_LEADSPC</c> it ate one space after the colon, which is put back.
    /// </summary>
    internal static byte[] HeaderBytes(MilterCommand.Header header, bool leadingSpace)
    {
        ReadOnlySpan<byte> value = header.Value;
        int bareLf = 0;
        for (int i = value.IndexOf((byte)'\n'); i >= 0; i = NextLf(value, i))
        {
            if (i == 0 || value[i - 1] != (byte)'\r')
            {
                bareLf++;
            }
        }
        int nameLength = System.Text.Encoding.UTF8.GetByteCount(header.Name);
        byte[] bytes = GC.AllocateUninitializedArray<byte>(nameLength + 1 + (leadingSpace ? 0 : 1) + value.Length + bareLf + 2);
        int at = System.Text.Encoding.UTF8.GetBytes(header.Name, bytes);
        bytes[at++] = (byte)':';
        if (!leadingSpace)
        {
            bytes[at++] = (byte)' ';
        }
        while (!value.IsEmpty)
        {
            int lf = value.IndexOf((byte)'\n');
            if (lf < 0)
            {
                value.CopyTo(bytes.AsSpan(at));
                at += value.Length;
                break;
            }
            value[..lf].CopyTo(bytes.AsSpan(at));
            at += lf;
            if (lf == 0 || value[lf - 1] != (byte)'\r')
            {
                bytes[at++] = (byte)'\r';
            }
            bytes[at++] = (byte)'\n';
            value = value[(lf + 1)..];
        }
        bytes[at++] = (byte)'\r';
        bytes[at] = (byte)'\n';
        return bytes;

        static int NextLf(ReadOnlySpan<byte> span, int from)
        {
            int next = span[(from + 1)..].IndexOf((byte)'\n');
            return next < 0 ? -1 : from + 1 + next;
        }
    }

    private static string StripBrackets(string token)
    {
        string t = token.Trim();
        if (t.Length >= 2 && t[0] == '<' && t[^1] == '>')
        {
            t = t[1..^1];
        }
        int colon = t.StartsWith('@') ? t.IndexOf(':', StringComparison.Ordinal) : -1;
        return colon >= 0 ? t[(colon + 1)..] : t;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static string DescribePrefix(ReadOnlySequence<byte> unread)
    {
        int n = (int)Math.Min(16, unread.Length);
        byte[] head = unread.Slice(0, n).ToArray();
        return Convert.ToHexString(head);
    }

    /// <summary>Where a connection is in the protocol.</summary>
    internal enum Phase
    {
        /// <summary>Waiting for OPTNEG.</summary>
        Negotiating,

        /// <summary>Negotiated, no transaction: CONNECT, HELO, MAIL.</summary>
        Idle,

        /// <summary>After MAIL: RCPT, DATA, then content.</summary>
        Envelope,

        /// <summary>Headers or body arriving.</summary>
        Content,
    }

    /// <summary>
    /// The read timeouts and the service's stop for one connection, set up once: a read costs two timer changes
    /// instead of a timer, a token source and a linked token source (docs/benchmarks.md, milter at 10 sessions).
    /// </summary>
    /// <remarks>
    /// Both end a waiting read with <see cref="PipeReader.CancelPendingRead"/>. The stop ends only a read between
    /// transactions (<c>idle</c>); one in the middle of a message goes on, and the loop stops before its next idle
    /// read. A timer or a stop that lands just after a read completed cancels the next read at once, which the loop
    /// recognises (<see cref="TimedOut"/> false, not idle or not stopping) and reads again.
    /// </remarks>
    private sealed class ReadGuard : IDisposable
    {
        private readonly PipeReader _input;
        private readonly ITimer _timer;
        private readonly CancellationTokenRegistration _stopping;
        private readonly Lock _gate = new();
        private bool _reading;
        private bool _idle;
        private bool _timedOut;

        public ReadGuard(PipeReader input, TimeProvider time, CancellationToken stopping)
        {
            _input = input;
            _timer = time.CreateTimer(static g => ((ReadGuard)g!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _stopping = stopping.UnsafeRegister(static g => ((ReadGuard)g!).OnStopping(), this);
        }

        /// <summary>True when the timer ended the last read.</summary>
        public bool TimedOut
        {
            get
            {
                lock (_gate)
                {
                    return _timedOut;
                }
            }
        }

        /// <summary>Starts the timeout for the next read; <paramref name="idle"/>: a stop may end it.</summary>
        public void Arm(TimeSpan timeout, bool idle)
        {
            lock (_gate)
            {
                _reading = true;
                _idle = idle;
                _timedOut = false;
            }
            _timer.Change(timeout, Timeout.InfiniteTimeSpan);
        }

        /// <summary>Stops the timeout after a read.</summary>
        public void Disarm()
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            lock (_gate)
            {
                _reading = false;
            }
        }

        public void Dispose()
        {
            _stopping.Dispose();
            _timer.Dispose();
        }

        private void OnTimer()
        {
            lock (_gate)
            {
                if (!_reading)
                {
                    return;
                }
                _timedOut = true;
            }
            _input.CancelPendingRead();
        }

        private void OnStopping()
        {
            lock (_gate)
            {
                if (!_reading || !_idle)
                {
                    return;
                }
            }
            _input.CancelPendingRead();
        }
    }

    private sealed class State(ConnectionContext connection)
    {
        private static readonly byte[] Crlf = "\r\n"u8.ToArray();

        /// <summary>The stages whose macros belong to one message (cleared after it).</summary>
        private static readonly MilterCommandCode[] MessageStages =
        [
            MilterCommandCode.Mail, MilterCommandCode.Rcpt, MilterCommandCode.Data, MilterCommandCode.Header,
            MilterCommandCode.EndOfHeaders, MilterCommandCode.Body, MilterCommandCode.BodyEob,
        ];

        private readonly Dictionary<MilterCommandCode, Dictionary<string, string>> _macros = new();
        private bool _headersEnded;

        public ConnectionContext Connection { get; } = connection;

        public Phase Phase { get; set; }

        public long Buffered { get; set; }

        public uint Version { get; set; }

        public MilterActions Actions { get; set; }

        public MilterProtocol Protocol { get; set; }

        public bool LeadingSpace => (Protocol & MilterProtocol.HeaderLeadingSpace) != 0;

        public string? Host { get; set; }

        public char Family { get; set; }

        public int? Port { get; set; }

        public IPAddress? Address { get; set; }

        public string? Helo { get; set; }

        public Envelope? Envelope { get; private set; }

        public MessageSpool? Spool { get; private set; }

        public string? MailId { get; private set; }

        public DateTimeOffset Received { get; private set; }

        public string? GreylistHeader { get; set; }

        public void BeginTransaction(SpoolOptions options, DateTimeOffset now)
        {
            MailId = Pipeline.Messages.MailId.New();
            Envelope = new Envelope();
            Spool = new MessageSpool(options, MailId);
            Received = now;
            GreylistHeader = null;
            _headersEnded = false;
            Phase = Phase.Envelope;
        }

        public async ValueTask EndHeadersAsync(CancellationToken cancellationToken)
        {
            if (!_headersEnded)
            {
                _headersEnded = true;
                await Spool!.WriteAsync(Crlf, cancellationToken).ConfigureAwait(false);
            }
        }

        public async ValueTask EndTransactionAsync()
        {
            if (Spool is not null)
            {
                await Spool.DisposeAsync().ConfigureAwait(false);
            }
            Spool = null;
            Envelope = null;
            MailId = null;
            GreylistHeader = null;
        }

        public void SetMacros(MilterCommand.Macro macro)
        {
            if (!_macros.TryGetValue(macro.Stage, out Dictionary<string, string>? values))
            {
                values = new Dictionary<string, string>(StringComparer.Ordinal);
                _macros[macro.Stage] = values;
            }
            foreach (KeyValuePair<string, string> kv in macro.Macros)
            {
                values[Normalize(kv.Key)] = kv.Value;
            }
        }

        public string? Macro(string name)
        {
            string key = Normalize(name);
            foreach (MilterCommandCode stage in MacroLookupOrder)
            {
                if (_macros.TryGetValue(stage, out Dictionary<string, string>? values) && values.TryGetValue(key, out string? value))
                {
                    return value;
                }
            }
            return null;
        }

        public void ClearMessageMacros()
        {
            // Emptied, not removed: the next message fills the same dictionaries.
            foreach (MilterCommandCode stage in MessageStages)
            {
                if (_macros.TryGetValue(stage, out Dictionary<string, string>? values))
                {
                    values.Clear();
                }
            }
        }

        public void ResetConnection()
        {
            _macros.Clear();
            Host = null;
            Address = null;
            Port = null;
            Helo = null;
            Phase = Phase.Idle;
        }

        private static string Normalize(string name) =>
            name.Length > 2 && name[0] == '{' && name[^1] == '}' ? name[1..^1] : name;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "Milter {ConnectionId}: negotiated version {Version}, actions {Actions}, protocol {Protocol}")]
        public static partial void Negotiated(ILogger logger, string connectionId, uint version, MilterActions actions, MilterProtocol protocol);

        [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Milter {ConnectionId}: bad packet ({Error}), closing; bytes at fault: {Prefix}")]
        public static partial void BadPacket(ILogger logger, string connectionId, MilterError error, string prefix);

        [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Milter {ConnectionId}: command {Command} out of order in phase {Phase}, closing")]
        public static partial void OutOfOrder(ILogger logger, string connectionId, MilterCommandCode command, Phase phase);

        [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Milter {ConnectionId}: read timeout {Where} after {Seconds} s ({Buffered} bytes pending), closing")]
        public static partial void Timeout(ILogger logger, string connectionId, string where, double seconds, long buffered);

        [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Milter {ConnectionId}: peer closed in the middle of a packet ({Buffered} bytes pending)")]
        public static partial void ClosedMidPacket(ILogger logger, string connectionId, long buffered);

        [LoggerMessage(EventId = 4006, Level = LogLevel.Debug, Message = "Milter {ConnectionId}: peer closed without QUIT")]
        public static partial void ClosedWithoutQuit(ILogger logger, string connectionId);

        [LoggerMessage(EventId = 4007, Level = LogLevel.Error, Message = "Milter {ConnectionId}: message {MailId} failed, answering 451")]
        public static partial void MessageFailed(ILogger logger, string connectionId, string mailId, Exception exception);

        [LoggerMessage(EventId = 4008, Level = LogLevel.Warning, Message = "Milter {ConnectionId}: greylist failed, answering 451")]
        public static partial void GreylistFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(EventId = 4009, Level = LogLevel.Information, Message = "Milter {ConnectionId}: greylisted [{Client}] <{Sender}> -> <{Recipient}>: {Reason}")]
        public static partial void GreylistDeferred(ILogger logger, string connectionId, IPAddress client, string sender, string recipient, string reason);

        [LoggerMessage(EventId = 4010, Level = LogLevel.Error, Message = "Milter {ConnectionId}: quarantine of {MailId} failed")]
        public static partial void QuarantineFailed(ILogger logger, string connectionId, string mailId, Exception exception);

        [LoggerMessage(EventId = 4011, Level = LogLevel.Error, Message = "Milter {ConnectionId}: session failed")]
        public static partial void SessionFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "Milter {ConnectionId}: connection lost: {Detail}")]
        public static partial void ConnectionLost(ILogger logger, string connectionId, string detail);

        [LoggerMessage(EventId = 4013, Level = LogLevel.Debug, Message = "Milter {ConnectionId}: abandoned at shutdown")]
        public static partial void Aborted(ILogger logger, string connectionId);

        [LoggerMessage(EventId = 4014, Level = LogLevel.Information, Message = "Milter {ConnectionId}: closing idle connection, service stopping")]
        public static partial void Stopping(ILogger logger, string connectionId);

        [LoggerMessage(EventId = 4015, Level = LogLevel.Warning, Message = "Milter {ConnectionId}: MTA offers protocol version {Version}, need 2 or later, closing")]
        public static partial void BadVersion(ILogger logger, string connectionId, uint version);

        [LoggerMessage(EventId = 4016, Level = LogLevel.Warning, Message = "Milter {ConnectionId}: MTA does not grant header edits (offered {Actions}); headers will not be added")]
        public static partial void ActionsMissing(ILogger logger, string connectionId, MilterActions actions);

        [LoggerMessage(EventId = 4017, Level = LogLevel.Debug, Message = "Milter {ConnectionId}: {MailId} still being checked, sent progress")]
        public static partial void Progress(ILogger logger, string connectionId, string mailId);

        [LoggerMessage(EventId = 4018, Level = LogLevel.Error, Message = "Milter {ConnectionId}: audit sink failed")]
        public static partial void AuditFailed(ILogger logger, string connectionId, Exception exception);
    }
}
