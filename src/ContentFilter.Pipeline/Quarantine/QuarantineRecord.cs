namespace ContentFilter.Pipeline.Quarantine;

/// <summary>The metadata kept beside a quarantined message (<c>ID.json</c>): enough to explain and to release it.</summary>
public sealed record QuarantineRecord
{
    /// <summary>The quarantine id (the message's mail_id).</summary>
    public required string Id { get; init; }

    /// <summary>When it was quarantined.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>Envelope sender ("" = null sender).</summary>
    public required string Sender { get; init; }

    /// <summary>MAIL FROM parameters as received (SIZE, BODY, ...), replayed on release.</summary>
    public IReadOnlyList<string> MailParameters { get; init; } = Array.Empty<string>();

    /// <summary>Envelope recipients with their RCPT parameters.</summary>
    public required IReadOnlyList<QuarantineRecipient> Recipients { get; init; }

    /// <summary>amavis category (<c>INFECTED</c>, <c>BANNED</c>, <c>SPAM</c> ...).</summary>
    public required string Category { get; init; }

    /// <summary>Virus or banned names.</summary>
    public IReadOnlyList<string> Names { get; init; } = Array.Empty<string>();

    /// <summary>Spam score, when scored.</summary>
    public double? Score { get; init; }

    /// <summary>What was done (<c>Discard</c>, <c>Reject</c>, <c>Deliver</c>).</summary>
    public string? Action { get; init; }

    /// <summary>Why.</summary>
    public string? Reason { get; init; }

    /// <summary>Listener name.</summary>
    public string? Listener { get; init; }

    /// <summary>Client IP address, when known.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>Upstream queue id.</summary>
    public string? QueueId { get; init; }

    /// <summary>Message-ID header.</summary>
    public string? MessageId { get; init; }

    /// <summary>From header.</summary>
    public string? From { get; init; }

    /// <summary>Subject header.</summary>
    public string? Subject { get; init; }

    /// <summary>Size of the original bytes.</summary>
    public long Size { get; init; }

    /// <summary>Releases so far.</summary>
    public IReadOnlyList<QuarantineRelease> Releases { get; init; } = Array.Empty<QuarantineRelease>();
}

/// <summary>One envelope recipient of a quarantined message.</summary>
/// <param name="Address">The address.</param>
/// <param name="Parameters">RCPT parameters (NOTIFY, ORCPT).</param>
public sealed record QuarantineRecipient(string Address, IReadOnlyList<string> Parameters);

/// <summary>One release of a quarantined message.</summary>
/// <param name="Time">When.</param>
/// <param name="Recipients">To whom.</param>
/// <param name="Reply">The next hop's final reply.</param>
/// <param name="Accepted">True when the next hop accepted it.</param>
public sealed record QuarantineRelease(DateTimeOffset Time, IReadOnlyList<string> Recipients, string Reply, bool Accepted);
