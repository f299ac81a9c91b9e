namespace ContentFilter.Frontends.Transport;

/// <summary>Why the listener turned a client away before the handler saw it.</summary>
public enum ConnectionRefusal
{
    /// <summary>The client's address is not in the listener's allow-list (SMTP: <c>554 5.7.1</c>).</summary>
    NotAllowed,

    /// <summary>The listener is at <see cref="ListenerOptions.MaxSessions"/> (SMTP: <c>421 4.3.2</c>).</summary>
    TooManySessions,

    /// <summary>The service is shutting down (SMTP: <c>421 4.3.2</c>).</summary>
    ShuttingDown,
}
