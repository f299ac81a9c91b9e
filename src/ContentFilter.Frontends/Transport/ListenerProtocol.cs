namespace ContentFilter.Frontends.Transport;

/// <summary>Which protocol a listener speaks; decides the handler and how a refused client is told.</summary>
public enum ListenerProtocol
{
    /// <summary>After-queue SMTP proxy (Postfix <c>content_filter</c> through its smtp client).</summary>
    Smtp,

    /// <summary>After-queue LMTP proxy (Postfix <c>content_filter</c> through its lmtp client), RFC 2033.</summary>
    Lmtp,

    /// <summary>Milter (<c>smtpd_milters</c>).</summary>
    Milter,

    /// <summary>Postfix policy delegation (<c>check_policy_service</c>).</summary>
    Policy,
}
