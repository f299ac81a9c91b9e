namespace ContentFilter.Testing.Chaos;

/// <summary>Which of the filter's doors the front Postfix uses in a chaos run.</summary>
public enum ChaosDoor
{
    /// <summary>After-queue: the front Postfix's <c>content_filter</c> → the inbound SMTP listener → reinjection into the next hop.</summary>
    Proxy,

    /// <summary>
    /// Before-queue: the front Postfix's <c>smtpd_milters</c> (<c>milter_default_action = tempfail</c>) → the milter
    /// listener; the front Postfix relays accepted mail to the next hop itself. A fault answers the sender 4xx at
    /// SMTP time, so nothing is queued that the milter did not pass.
    /// </summary>
    Milter,
}
