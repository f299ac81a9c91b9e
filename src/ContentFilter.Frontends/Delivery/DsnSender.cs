using System.Net;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Frontends.Delivery;

/// <summary>Sends RFC 3464 failure notices for recipients the next hop refused permanently, through the next hop.</summary>
/// <remarks>
/// <para>Used when a message was delivered to some recipients and refused (5xx) for others: the upstream gets 2xx,
/// so Postfix will not bounce, and the sender must still learn about the refused ones (amavis does the same).</para>
/// <para>Never for the null sender (RFC 5321 §4.5.5: no bounce loops), and never for a recipient whose
/// <c>NOTIFY=</c> excludes <c>FAILURE</c> (RFC 3461 §4.1). The DSN itself has the null reverse path, goes to the
/// original envelope sender, is spooled like any message (memory bounded) and handed to the same next hop. If the
/// next hop does not take it, <see cref="DsnDeliveryException"/> is thrown and the caller answers 4xx, so Postfix
/// retries the whole message rather than the notice being lost.</para>
/// </remarks>
public sealed partial class DsnSender : IDsnSender
{
    private readonly DsnOptions _options;
    private readonly SpoolOptions _spoolOptions;
    private readonly INextHop _nextHop;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the sender.</summary>
    public DsnSender(DsnOptions options, SpoolOptions spoolOptions, INextHop nextHop, TimeProvider time, ILogger<DsnSender> logger)
    {
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid DSN options: " + string.Join("; ", problems), nameof(options));
        }
        _options = options;
        _spoolOptions = spoolOptions;
        _nextHop = nextHop;
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public async Task SendFailureNoticeAsync(MessageContext context, IReadOnlyList<RecipientOutcome> failed, CancellationToken cancellationToken)
    {
        if (context.Envelope.IsNullSender)
        {
            Log.NullSender(_logger, context.MailId);
            return;
        }
        List<RecipientOutcome> notify = failed.Where(f => !f.Accepted && WantsFailureNotice(f.Recipient)).ToList();
        if (notify.Count == 0)
        {
            return;
        }

        string dsnId = MailId.New();
        var writer = new DsnMessageWriter(_options);
        await using var spool = new MessageSpool(_spoolOptions, dsnId);
        await using (var sink = new SpoolWriteStream(spool))
        {
            await writer.WriteAsync(context, notify, _time.GetUtcNow(), sink, cancellationToken).ConfigureAwait(false);
        }
        await spool.CompleteAsync(cancellationToken).ConfigureAwait(false);
        MessageHeaders headers = spool.ReadHeaders(64 * 1024);

        var envelope = new Envelope
        {
            MailFrom = string.Empty,
            Client = new ClientInfo
            {
                Name = "localhost",
                Address = IPAddress.Loopback,
                Helo = _options.ReportingMta,
                Protocol = "SMTP",
                Ident = dsnId,
                Source = "LOCAL",
            },
        };
        if (writer.EightBit)
        {
            envelope.MailParameters.Add("BODY=8BITMIME");
        }
        envelope.Recipients.Add(new EnvelopeRecipient(context.Envelope.MailFrom, Array.Empty<string>()));

        DeliveryOutcome outcome = await _nextHop.DeliverAsync(envelope, spool, headers, Array.Empty<HeaderEdit>(), cancellationToken).ConfigureAwait(false);
        if (!outcome.AnyAccepted)
        {
            Log.NotAccepted(_logger, context.MailId, outcome.Final.ToString());
            throw new DsnDeliveryException(outcome);
        }
        Log.Sent(_logger, context.MailId, context.Envelope.MailFrom, notify.Count, outcome.QueuedAs ?? "-");
    }

    /// <summary>RFC 3461 §4.1: without NOTIFY the default includes failures; NOTIFY=NEVER or a list without FAILURE excludes them.</summary>
    internal static bool WantsFailureNotice(EnvelopeRecipient recipient)
    {
        string? notify = recipient.Parameters.FirstOrDefault(p => p.StartsWith("NOTIFY=", StringComparison.OrdinalIgnoreCase));
        if (notify is null)
        {
            return true;
        }
        return notify[7..].Split(',').Any(v => v.Trim().Equals("FAILURE", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Adapts the spool's WriteAsync to a write-only stream for the writer.</summary>
    private sealed class SpoolWriteStream : Stream
    {
        private readonly MessageSpool _spool;

        public SpoolWriteStream(MessageSpool spool)
        {
            _spool = spool;
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _spool.Length;

        public override long Position
        {
            get => _spool.Length;
            set => throw new NotSupportedException();
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            _spool.WriteAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _spool.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Use WriteAsync.");

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3151, Level = LogLevel.Information, Message = "Sent a failure notice for message {MailId} to <{Sender}> covering {Count} recipient(s), queued as {QueuedAs}")]
        public static partial void Sent(ILogger logger, string mailId, string sender, int count, string queuedAs);

        [LoggerMessage(EventId = 3152, Level = LogLevel.Information, Message = "No failure notice for message {MailId}: the sender is <>")]
        public static partial void NullSender(ILogger logger, string mailId);

        [LoggerMessage(EventId = 3153, Level = LogLevel.Warning, Message = "The next hop did not accept the failure notice for message {MailId}: {Reply}")]
        public static partial void NotAccepted(ILogger logger, string mailId, string reply);
    }
}
