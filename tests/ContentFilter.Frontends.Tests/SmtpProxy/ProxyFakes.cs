using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Quarantine;
using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Frontends.Tests.SmtpProxy;

/// <summary>A next hop that records what OutgoingMessage.WriteAsync would send and answers as told.</summary>
internal sealed class FakeNextHop : INextHop
{
    public const string Peer = "smtp:[127.0.0.1]:10025";

    public List<(Envelope Envelope, byte[] Bytes)> Delivered { get; } = new();

    /// <summary>Decides the outcome from the envelope; default: everyone accepted, queued as QUEUE1.</summary>
    public Func<Envelope, DeliveryOutcome> Answer { get; set; } = AcceptAll;

    public Exception? Throw { get; set; }

    public static DeliveryOutcome AcceptAll(Envelope e) => new()
    {
        Recipients = e.Recipients.Select(r => new RecipientOutcome(r, new Reply(250, "2.1.5", "Ok"))).ToList(),
        Final = new Reply(250, "2.0.0", "Ok: queued as QUEUE1"),
        QueuedAs = "QUEUE1",
        Peer = Peer,
    };

    public async Task<DeliveryOutcome> DeliverAsync(Envelope envelope, MessageSpool spool, MessageHeaders headers, IReadOnlyList<HeaderEdit> edits, CancellationToken cancellationToken)
    {
        if (Throw is not null)
        {
            throw Throw;
        }
        using var ms = new MemoryStream();
        await OutgoingMessage.WriteAsync(spool, headers, edits, ms, cancellationToken);
        Delivered.Add((envelope.Clone(), ms.ToArray()));
        return Answer(envelope);
    }
}

internal sealed class FakeDsnSender : IDsnSender
{
    public List<IReadOnlyList<RecipientOutcome>> Calls { get; } = new();

    public Exception? Throw { get; set; }

    public Task SendFailureNoticeAsync(MessageContext context, IReadOnlyList<RecipientOutcome> failed, CancellationToken cancellationToken)
    {
        if (Throw is not null)
        {
            throw Throw;
        }
        Calls.Add(failed);
        return Task.CompletedTask;
    }
}

internal sealed class FakeQuarantine : IQuarantineStore
{
    public List<(string MailId, byte[] Bytes)> Stored { get; } = new();

    public async Task<string> StoreAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken)
    {
        using var ms = new MemoryStream();
        await using (Stream s = context.Spool.OpenRead())
        {
            await s.CopyToAsync(ms, cancellationToken);
        }
        Stored.Add((context.MailId, ms.ToArray()));
        return "q-" + context.MailId;
    }
}

internal sealed class ListAuditSink : IAuditSink
{
    private readonly List<AuditRecord> _records = new();

    public IReadOnlyList<AuditRecord> Records
    {
        get
        {
            lock (_records)
            {
                return _records.ToList();
            }
        }
    }

    public void Write(AuditRecord record)
    {
        lock (_records)
        {
            _records.Add(record);
        }
    }
}

/// <summary>A check that runs a function, so a test can make it hit, fail or throw.</summary>
internal sealed class LambdaCheck(string name, Func<MessageContext, CheckResult> run) : ICheck
{
    public string Name { get; } = name;

    public ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken) => ValueTask.FromResult(run(context));
}
