using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Pipeline.Checks;

/// <summary>Which door a message came through; policy differs (proxy discards viruses, milter rejects them).</summary>
public enum FrontDoor
{
    /// <summary>After-queue SMTP proxy (Postfix <c>content_filter</c>).</summary>
    Smtp,

    /// <summary>After-queue LMTP proxy.</summary>
    Lmtp,

    /// <summary>Before-queue milter (<c>smtpd_milters</c>).</summary>
    Milter,
}

/// <summary>Everything a check may know about one message. The spool is read-only here.</summary>
public sealed class MessageContext
{
    private readonly List<CheckResult> _results = new();

    /// <summary>Creates the context for a fully spooled message.</summary>
    public MessageContext(string mailId, Envelope envelope, MessageSpool spool, MessageHeaders headers, ListenerPolicy listener, FrontDoor door, DateTimeOffset received)
    {
        MailId = mailId;
        Envelope = envelope;
        Spool = spool;
        Headers = headers;
        Listener = listener;
        Door = door;
        Received = received;
    }

    /// <summary>Our id for the message (amavis's mail_id): 12 characters, URL-safe, used for spool and quarantine.</summary>
    public string MailId { get; }

    /// <summary>The envelope.</summary>
    public Envelope Envelope { get; }

    /// <summary>The message bytes.</summary>
    public MessageSpool Spool { get; }

    /// <summary>The parsed header section.</summary>
    public MessageHeaders Headers { get; }

    /// <summary>The policy of the listener the message came in on.</summary>
    public ListenerPolicy Listener { get; }

    /// <summary>The front door.</summary>
    public FrontDoor Door { get; }

    /// <summary>When the transaction's DATA began.</summary>
    public DateTimeOffset Received { get; }

    /// <summary>Direction from the listener, or the milter's AUTH/daemon-name decision.</summary>
    public MessageDirection Direction { get; set; }

    /// <summary>Results of the checks run so far, in run order. Later checks may read earlier ones (DMARC reads SPF, DKIM).</summary>
    public IReadOnlyList<CheckResult> Results => _results;

    /// <summary>Per-stage timings in milliseconds for the audit record (<c>receive</c>, <c>clamav</c>, <c>next-hop</c> ...).</summary>
    public Dictionary<string, double> Timings { get; } = new(StringComparer.Ordinal);

    /// <summary>Finds the first result of type <typeparamref name="T"/> from the check named <paramref name="check"/>.</summary>
    public T? Find<T>(string check) where T : CheckResult =>
        _results.OfType<T>().FirstOrDefault(r => r.Check == check);

    /// <summary>Records a result (the pipeline does this).</summary>
    public void AddResult(CheckResult result) => _results.Add(result);
}
