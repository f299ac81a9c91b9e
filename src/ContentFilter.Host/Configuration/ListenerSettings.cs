namespace ContentFilter.Host.Configuration;

/// <summary>Which protocol a listener speaks.</summary>
public enum ListenerProtocol
{
    /// <summary>After-queue SMTP proxy (Postfix <c>content_filter</c> via the smtp client).</summary>
    Smtp,

    /// <summary>After-queue LMTP proxy (Postfix <c>content_filter</c> via the lmtp client): per-recipient replies.</summary>
    Lmtp,

    /// <summary>Milter for <c>smtpd_milters</c> / <c>non_smtpd_milters</c>.</summary>
    Milter,

    /// <summary>Postfix policy delegation for <c>check_policy_service</c> (greylisting).</summary>
    Policy,
}

/// <summary>One listener as the admin configures it (<c>Listeners:NAME</c>).</summary>
public sealed class ListenerSettings
{
    /// <summary>Set false to turn a default listener off.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>127.0.0.1:10024</c>, <c>[::1]:10024</c> or <c>unix:/run/contentfilter/milter.sock</c>.</summary>
    public string Endpoint { get; set; } = string.Empty;

    /// <summary>Protocol spoken.</summary>
    public ListenerProtocol Protocol { get; set; } = ListenerProtocol.Smtp;

    /// <summary><c>Inbound</c> or <c>Originating</c> (proxy listeners; the milter decides per message from AUTH / daemon name).</summary>
    public string Direction { get; set; } = "Inbound";

    /// <summary>Check names to run here; empty = all enabled checks that apply to the direction.</summary>
    public List<string> Checks { get; set; } = new();

    /// <summary>Client networks allowed to connect (CIDR). Empty = loopback only. Required for non-loopback endpoints.</summary>
    public List<string> AllowedClients { get; set; } = new();

    /// <summary>Concurrent sessions; more get <c>421 4.3.2</c> (SMTP) or are closed. Default 100 (Postfix's default_process_limit).</summary>
    public int MaxSessions { get; set; } = 100;
}
