using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Pipeline.Delivery;

/// <summary>Hands a message to the next hop (Postfix's reinjection smtpd on 127.0.0.1:10025).</summary>
public interface INextHop
{
    /// <summary>Delivers the outgoing form of the message to every envelope recipient.</summary>
    /// <returns>The outcome; never throws for peer trouble (a transient outcome instead).</returns>
    Task<DeliveryOutcome> DeliverAsync(Envelope envelope, MessageSpool spool, MessageHeaders headers, IReadOnlyList<HeaderEdit> edits, CancellationToken cancellationToken);
}

/// <summary>Result for one recipient at the next hop.</summary>
/// <param name="Recipient">The recipient.</param>
/// <param name="Reply">The next hop's reply to RCPT (or to DATA when the whole transaction failed).</param>
public sealed record RecipientOutcome(EnvelopeRecipient Recipient, Reply Reply)
{
    /// <summary>True when the next hop accepted this recipient and the message.</summary>
    public bool Accepted => Reply.Code is >= 200 and < 300;
}

/// <summary>What the next hop did with a message.</summary>
public sealed record DeliveryOutcome
{
    /// <summary>Per recipient replies, in envelope order.</summary>
    public required IReadOnlyList<RecipientOutcome> Recipients { get; init; }

    /// <summary>The final reply: the next hop's reply to the dot when data was sent, else the failing reply.</summary>
    public required Reply Final { get; init; }

    /// <summary>The next hop's queue id (<c>queued as X</c>), when it said so.</summary>
    public string? QueuedAs { get; init; }

    /// <summary>Which next hop, for replies and logs (<c>smtp:[127.0.0.1]:10025</c>).</summary>
    public string? Peer { get; init; }

    /// <summary>True when the message was accepted for at least one recipient.</summary>
    public bool AnyAccepted => Final.Code is >= 200 and < 300 && Recipients.Any(r => r.Accepted);

    /// <summary>True when anything failed temporarily (then the upstream must get 4xx for the transaction).</summary>
    public bool AnyTransient => Final.IsTransient || Recipients.Any(r => r.Reply.IsTransient);
}
