using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using ContentFilter.Frontends.Transport;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Protocols.Policy;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Frontends.Policy;

/// <summary>The policy door: Postfix's <c>check_policy_service</c> connections, answered by greylisting.</summary>
/// <remarks>
/// <para>SMTPD_POLICY_README, PROTOCOLS.md §5: Postfix keeps a connection open and sends one request after another;
/// each gets one reply. At <c>protocol_state=RCPT</c> the greylist decides: <c>DEFER_IF_PERMIT</c> for a triplet
/// that must wait, <c>PREPEND X-Greylist: ...</c> on the first pass after a wait, <c>DUNNO</c> otherwise.</para>
/// <para>On internal trouble (store down, decision timeout) we send nothing and close: Postfix retries and then
/// applies <c>smtpd_policy_service_default_action</c>, which the admin chose. Bad input (garbage, a line or request
/// over the caps, a request cut off by EOF) is logged and the connection closed; it never throws.</para>
/// </remarks>
public sealed partial class PolicySession : IConnectionHandler
{
    private readonly PolicySessionOptions _options;
    private readonly IGreylist _greylist;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the door.</summary>
    public PolicySession(PolicySessionOptions options, IGreylist greylist, TimeProvider time, ILogger<PolicySession> logger)
    {
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid policy options: " + string.Join("; ", errors), nameof(options));
        }
        _options = options;
        _greylist = greylist;
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public async Task HandleAsync(ConnectionContext connection, CancellationToken aborted)
    {
        PipeReader input = connection.Transport.Input;
        PipeWriter output = connection.Transport.Output;
        var reader = new PolicyRequestReader(_options.Limits);
        using var timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _time);
        using CancellationTokenRegistration onAbort = aborted.Register(static s => ((CancellationTokenSource)s!).Cancel(), timer);
        using CancellationTokenRegistration onStop = connection.Stopping.Register(static s => ((PipeReader)s!).CancelPendingRead(), input);
        int served = 0;
        var requests = new List<PolicyRequest>(1);
        bool inRequest = false;
        long requestStarted = 0;
        try
        {
            while (true)
            {
                bool partial = inRequest;
                // RequestTimeoutSeconds bounds the whole request, not each read: a client sending a byte a second must
                // not hold the connection.
                TimeSpan wait = TimeSpan.FromSeconds(_options.IdleTimeoutSeconds);
                if (partial)
                {
                    wait = TimeSpan.FromSeconds(_options.RequestTimeoutSeconds) - _time.GetElapsedTime(requestStarted);
                    if (wait <= TimeSpan.Zero)
                    {
                        wait = TimeSpan.FromTicks(1);
                    }
                }
                timer.CancelAfter(wait);
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(timer.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                    if (partial)
                    {
                        Log.RequestTimeout(_logger, connection.Id, _options.RequestTimeoutSeconds);
                    }
                    else
                    {
                        Log.IdleTimeout(_logger, connection.Id, served);
                    }
                    return;
                }
                timer.CancelAfter(Timeout.InfiniteTimeSpan);

                ReadOnlySequence<byte> buffer = result.Buffer;
                requests.Clear();
                (SequencePosition consumed, PolicyError error, bool pending) = Parse(reader, buffer, requests);
                foreach (PolicyRequest request in requests)
                {
                    PolicyReply? reply = await DecideAsync(connection, request, timer, aborted).ConfigureAwait(false);
                    if (reply is null)
                    {
                        return;
                    }
                    PolicyReplyWriter.Write(reply, output);
                    served++;
                    FlushResult flushed = await output.FlushAsync(aborted).ConfigureAwait(false);
                    if (flushed.IsCompleted)
                    {
                        return;
                    }
                }
                if (error != PolicyError.None)
                {
                    Log.BadRequest(_logger, connection.Id, error, connection.RemoteEndPoint?.ToString() ?? "?");
                    return;
                }
                input.AdvanceTo(consumed, buffer.End);
                if (pending && (!inRequest || requests.Count > 0))
                {
                    requestStarted = _time.GetTimestamp(); // a new request began in this read
                }
                inRequest = pending;

                if (result.IsCompleted)
                {
                    if (pending)
                    {
                        Log.TruncatedRequest(_logger, connection.Id);
                    }
                    return;
                }
                if (result.IsCanceled && !pending)
                {
                    // Service shutting down between requests: Postfix reconnects to the next instance.
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // Abandoned at shutdown.
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log.ConnectionFailed(_logger, connection.Id, ex.Message);
        }
        finally
        {
            await input.CompleteAsync().ConfigureAwait(false);
            await output.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Reads every complete request in <paramref name="buffer"/> (Postfix sends one at a time; a pipelining client gets answers in order).</summary>
    private static (SequencePosition Consumed, PolicyError Error, bool Pending) Parse(PolicyRequestReader reader, ReadOnlySequence<byte> buffer, List<PolicyRequest> requests)
    {
        var sequence = new SequenceReader<byte>(buffer);
        PolicyError error;
        while (reader.TryRead(ref sequence, out PolicyRequest? request, out error))
        {
            requests.Add(request);
        }
        return (sequence.Position, error, sequence.Remaining > 0 || reader.HasPartialRequest);
    }

    /// <summary>The reply for one request, or null to close without one.</summary>
    /// <remarks>
    /// The decision timeout runs on the session's timer (idle between requests, so free here), which
    /// <paramref name="aborted"/> also cancels: no token sources per query.
    /// </remarks>
    private async ValueTask<PolicyReply?> DecideAsync(ConnectionContext connection, PolicyRequest request, CancellationTokenSource timer, CancellationToken aborted)
    {
        if (request.Request != "smtpd_access_policy")
        {
            Log.UnknownRequestType(_logger, connection.Id, request.Request ?? "(none)");
            return PolicyReply.Dunno;
        }
        // postgrey has no protocol_state test but needs a recipient; we greylist at RCPT only (a recipient is
        // also present at DATA when there is exactly one, and that one was already decided at RCPT).
        string? state = request.ProtocolState;
        if (state is not null && !state.Equals("RCPT", StringComparison.OrdinalIgnoreCase))
        {
            return PolicyReply.Dunno;
        }
        if (string.IsNullOrEmpty(request.Recipient) || request.ClientName is null || request.Sender is null
            || !IPAddress.TryParse(request.ClientAddress, out IPAddress? address))
        {
            Log.MissingAttributes(_logger, connection.Id);
            return PolicyReply.Dunno;
        }

        var question = new GreylistRequest(address, request.ClientName, request.Sender, request.Recipient, request.Instance, request.HeloName);
        timer.CancelAfter(TimeSpan.FromSeconds(_options.DecisionTimeoutSeconds));
        GreylistDecision decision;
        try
        {
            decision = await _greylist.CheckAsync(question, timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested && !aborted.IsCancellationRequested)
        {
            Log.DecisionTimeout(_logger, connection.Id, _options.DecisionTimeoutSeconds);
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.DecisionFailed(_logger, connection.Id, ex);
            return null;
        }
        finally
        {
            timer.CancelAfter(Timeout.InfiniteTimeSpan);
        }

        if (decision.Action == GreylistAction.Defer)
        {
            return PolicyReply.DeferIfPermit(decision.DeferText ?? "4.2.0 Greylisted");
        }
        return decision.PrependHeader is { } header ? PolicyReply.Prepend(header) : PolicyReply.Dunno;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6101, Level = LogLevel.Warning, Message = "Policy {ConnectionId}: bad request ({Error}) from {Remote}; closing without a reply")]
        public static partial void BadRequest(ILogger logger, string connectionId, PolicyError error, string remote);

        [LoggerMessage(EventId = 6102, Level = LogLevel.Warning, Message = "Policy {ConnectionId}: connection closed in the middle of a request (no empty line); no reply")]
        public static partial void TruncatedRequest(ILogger logger, string connectionId);

        [LoggerMessage(EventId = 6103, Level = LogLevel.Debug, Message = "Policy {ConnectionId}: idle, closing after {Served} replies")]
        public static partial void IdleTimeout(ILogger logger, string connectionId, int served);

        [LoggerMessage(EventId = 6104, Level = LogLevel.Warning, Message = "Policy {ConnectionId}: request not completed within {Seconds} s; closing")]
        public static partial void RequestTimeout(ILogger logger, string connectionId, int seconds);

        [LoggerMessage(EventId = 6105, Level = LogLevel.Error, Message = "Policy {ConnectionId}: greylist did not answer within {Seconds} s; closing without a reply (Postfix applies its default action)")]
        public static partial void DecisionTimeout(ILogger logger, string connectionId, int seconds);

        [LoggerMessage(EventId = 6106, Level = LogLevel.Error, Message = "Policy {ConnectionId}: greylist failed; closing without a reply (Postfix applies its default action)")]
        public static partial void DecisionFailed(ILogger logger, string connectionId, Exception exception);

        [LoggerMessage(EventId = 6107, Level = LogLevel.Warning, Message = "Policy {ConnectionId}: unknown request type {RequestType}; answering DUNNO")]
        public static partial void UnknownRequestType(ILogger logger, string connectionId, string requestType);

        [LoggerMessage(EventId = 6108, Level = LogLevel.Debug, Message = "Policy {ConnectionId}: client_address, client_name, sender or recipient missing; answering DUNNO")]
        public static partial void MissingAttributes(ILogger logger, string connectionId);

        [LoggerMessage(EventId = 6109, Level = LogLevel.Information, Message = "Policy {ConnectionId}: connection failed: {Reason}")]
        public static partial void ConnectionFailed(ILogger logger, string connectionId, string reason);
    }
}
