using System.Buffers;
using System.Globalization;
using System.Text;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Pipeline.Quarantine;

/// <summary>The result of a quarantine command: success and the text the CLI prints.</summary>
/// <param name="Success">False for "no such id" or a refused/failed release (the CLI exits non-zero).</param>
/// <param name="Text">What to print.</param>
public sealed record QuarantineCommandResult(bool Success, string Text);

/// <summary>Behind <c>contentfilter quarantine list | show ID | release ID [--to RCPT] | delete ID</c>.</summary>
/// <remarks>
/// Release reinjects the ORIGINAL bytes, unmodified (no header added: a DKIM signature on them stays valid), with
/// the original envelope (or the recipients given) through <see cref="INextHop"/>, then records the outcome in the
/// quarantine record and writes an audit record. The message stays in quarantine after a release (amavis does the
/// same); delete it explicitly or let retention expire it.
/// </remarks>
public sealed partial class QuarantineManager
{
    private readonly IQuarantineRepository _store;
    private readonly INextHop _nextHop;
    private readonly SpoolOptions _spool;
    private readonly IAuditSink? _audit;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the manager.</summary>
    public QuarantineManager(IQuarantineRepository store, INextHop nextHop, SpoolOptions spool, IAuditSink? audit, TimeProvider time, ILogger<QuarantineManager> logger)
    {
        _store = store;
        _nextHop = nextHop;
        _spool = spool;
        _audit = audit;
        _time = time;
        _logger = logger;
    }

    /// <summary>One line per message, newest first.</summary>
    public QuarantineCommandResult List()
    {
        IReadOnlyList<QuarantineRecord> all = _store.List();
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{"ID",-12}  {"TIME (UTC)",-19}  {"CATEGORY",-30}  {"SCORE",6}  {"SIZE",8}  FROM -> TO\n");
        foreach (QuarantineRecord r in all)
        {
            string category = r.Names.Count == 0 ? r.Category : $"{r.Category} ({string.Join(", ", r.Names)})";
            if (category.Length > 30)
            {
                category = category[..29] + "…";
            }
            string score = r.Score?.ToString("0.0", CultureInfo.InvariantCulture) ?? "-";
            sb.Append(CultureInfo.InvariantCulture, $"{r.Id,-12}  {r.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss}  {category,-30}  {score,6}  {r.Size,8}  <{r.Sender}> -> {string.Join(",", r.Recipients.Select(x => "<" + x.Address + ">"))}\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"{all.Count} message(s)\n");
        return new QuarantineCommandResult(true, sb.ToString());
    }

    /// <summary>The record and the message's header section.</summary>
    public QuarantineCommandResult Show(string id)
    {
        QuarantineRecord? r = _store.Get(id);
        if (r is null)
        {
            return NotFound(id);
        }
        var sb = new StringBuilder();
        void Line(string name, object? value)
        {
            if (value is not null && value.ToString() is { Length: > 0 } text)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{name + ":",-12} {text}\n");
            }
        }
        Line("ID", r.Id);
        Line("Time", r.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture));
        Line("Category", r.Names.Count == 0 ? r.Category : $"{r.Category} ({string.Join(", ", r.Names)})");
        Line("Score", r.Score?.ToString("0.###", CultureInfo.InvariantCulture));
        Line("Action", r.Action);
        Line("Reason", r.Reason);
        Line("Listener", r.Listener);
        Line("Client", r.ClientAddress);
        Line("Queue-ID", r.QueueId);
        Line("Sender", "<" + r.Sender + ">");
        Line("Recipients", string.Join(", ", r.Recipients.Select(x => "<" + x.Address + ">")));
        Line("Size", r.Size);
        foreach (QuarantineRelease rel in r.Releases)
        {
            Line("Released", $"{rel.Time.UtcDateTime:yyyy-MM-dd HH:mm:ss} to {string.Join(",", rel.Recipients)}: {rel.Reply}");
        }
        sb.Append('\n');
        sb.Append(ReadHeaderSection(id));
        return new QuarantineCommandResult(true, sb.ToString());
    }

    /// <summary>Reinjects the original bytes to the original recipients, or to <paramref name="to"/> when given.</summary>
    public async Task<QuarantineCommandResult> ReleaseAsync(string id, IReadOnlyList<string>? to, CancellationToken cancellationToken)
    {
        QuarantineRecord? r = _store.Get(id);
        if (r is null)
        {
            return NotFound(id);
        }
        var envelope = new Envelope { MailFrom = r.Sender };
        envelope.MailParameters.AddRange(r.MailParameters);
        if (to is { Count: > 0 })
        {
            envelope.Recipients.AddRange(to.Select(a => new EnvelopeRecipient(a.Trim().Trim('<', '>'), Array.Empty<string>())));
        }
        else
        {
            envelope.Recipients.AddRange(r.Recipients.Select(x => new EnvelopeRecipient(x.Address, x.Parameters)));
        }

        long start = _time.GetTimestamp();
        await using var spool = new MessageSpool(_spool, id + "-release-" + Guid.NewGuid().ToString("N")[..8]);
        await using (Stream source = _store.OpenMessage(id))
        {
            byte[] chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                int n;
                while ((n = await source.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await spool.WriteAsync(chunk.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
        await spool.CompleteAsync(cancellationToken).ConfigureAwait(false);
        MessageHeaders headers = spool.ReadHeaders(256 * 1024);

        DeliveryOutcome outcome = await _nextHop.DeliverAsync(envelope, spool, headers, Array.Empty<HeaderEdit>(), cancellationToken).ConfigureAwait(false);
        bool accepted = outcome.AnyAccepted;
        string[] recipients = envelope.Recipients.Select(x => x.Address).ToArray();
        _store.Update(r with { Releases = r.Releases.Append(new QuarantineRelease(_time.GetUtcNow(), recipients, outcome.Final.ToString(), accepted)).ToList() });
        Log.Released(_logger, id, string.Join(",", recipients), outcome.Final.ToString());
        _audit?.Write(new AuditRecord
        {
            Time = _time.GetUtcNow(),
            MailId = id,
            Listener = "quarantine",
            Door = "release",
            Disposition = accepted ? "Passed" : "Blocked",
            Category = r.Names.Count == 0 ? r.Category : $"{r.Category} ({string.Join(", ", r.Names)})",
            Action = accepted ? "Released" : "ReleaseFailed",
            Sender = envelope.MailFrom,
            Recipients = recipients,
            MessageId = r.MessageId,
            Hits = r.Score,
            Size = spool.Length,
            QueuedAs = outcome.QueuedAs,
            QuarantineId = id,
            Reply = outcome.Final.ToString(),
            ElapsedMs = _time.GetElapsedTime(start).TotalMilliseconds,
        });

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{(accepted ? "released" : "NOT released")} {id} to {string.Join(", ", recipients.Select(x => "<" + x + ">"))}: {outcome.Final}");
        if (outcome.Peer is not null)
        {
            sb.Append(CultureInfo.InvariantCulture, $" (from {outcome.Peer})");
        }
        sb.Append('\n');
        foreach (RecipientOutcome ro in outcome.Recipients.Where(x => !x.Accepted))
        {
            sb.Append(CultureInfo.InvariantCulture, $"  <{ro.Recipient.Address}>: {ro.Reply}\n");
        }
        return new QuarantineCommandResult(accepted && !outcome.AnyTransient, sb.ToString());
    }

    /// <summary>Deletes a message and its record.</summary>
    public QuarantineCommandResult Delete(string id) =>
        _store.Delete(id) ? new QuarantineCommandResult(true, $"deleted {id}\n") : NotFound(id);

    private string ReadHeaderSection(string id)
    {
        // At most 64 KiB: enough for any sane header section, and the body stays unread.
        using Stream s = _store.OpenMessage(id);
        byte[] head = new byte[64 * 1024];
        int total = 0;
        int n;
        while (total < head.Length && (n = s.Read(head, total, head.Length - total)) > 0)
        {
            total += n;
        }
        string text = Encoding.UTF8.GetString(head, 0, total);
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            end = text.IndexOf("\n\n", StringComparison.Ordinal);
        }
        return (end < 0 ? text : text[..end]).ReplaceLineEndings("\n") + "\n";
    }

    private static QuarantineCommandResult NotFound(string id) => new(false, $"no quarantined message with id '{id}'\n");

    private static partial class Log
    {
        [LoggerMessage(EventId = 4411, Level = LogLevel.Information, Message = "Quarantine release {Id} to {Recipients}: {Reply}")]
        public static partial void Released(ILogger logger, string id, string recipients, string reply);
    }
}
