namespace ContentFilter.Testing.Chaos;

/// <summary>Why a message was delivered more than once, as read from the front Postfix's log.</summary>
public enum ChaosDuplicateCause
{
    /// <summary>
    /// The documented SMTP-mode case (docs/chaos.md): the next hop accepted the message, then the filter died before
    /// answering Postfix's final dot. Postfix logs "lost connection ... while sending end of data -- message may be
    /// sent more than once" and retries.
    /// </summary>
    FilterDiedAfterNextHopAccepted,

    /// <summary>
    /// The same window one hop further (RFC 1047): the next hop committed the message and was stopped before its
    /// reply reached the filter, so the filter answered 451 "from MTA(...)" and Postfix retried.
    /// </summary>
    NextHopDiedAfterAccepting,

    /// <summary>No log line explains it: a defect.</summary>
    Unexplained,
}
