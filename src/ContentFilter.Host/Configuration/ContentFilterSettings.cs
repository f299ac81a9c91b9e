using ContentFilter.Frontends.Transport;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Host.Configuration;

/// <summary>The root of <c>contentfilter.json</c>. Every key has a safe default; no file is needed.</summary>
/// <remarks>
/// Sections owned by components (Antivirus, Spam, Dkim ...) bind straight onto their options classes; this class
/// holds the service-level ones. Unknown keys anywhere are errors (a typo must not silently mean "default").
/// </remarks>
public sealed class ContentFilterSettings
{
    /// <summary>Our host name for greetings, added headers and the default authserv-id. Empty = the machine's name.</summary>
    public string HostName { get; set; } = string.Empty;

    /// <summary>Listeners by name. Defaults: inbound 10024, originating 10026, milter 10027, policy 10023, all on 127.0.0.1.</summary>
    public Dictionary<string, ListenerOptions> Listeners { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The reinjection next hop.</summary>
    public NextHopSettings NextHop { get; set; } = new();

    /// <summary>Spool.</summary>
    public SpoolSettings Spool { get; set; } = new();

    /// <summary>Audit records.</summary>
    public AuditSettings Audit { get; set; } = new();

    /// <summary>Logging.</summary>
    public LoggingSettings Logging { get; set; } = new();

    /// <summary>Protocol limits and timeouts.</summary>
    public LimitsSettings Limits { get; set; } = new();

    /// <summary>The domains this site receives mail for.</summary>
    public LocalDomainsSettings LocalDomains { get; set; } = new();

    /// <summary>The Prometheus endpoint.</summary>
    public MetricsSettings Metrics { get; set; } = new();

    /// <summary>The default listeners, used when the configuration names none of that name.</summary>
    public static IReadOnlyDictionary<string, ListenerOptions> DefaultListeners { get; } = new Dictionary<string, ListenerOptions>(StringComparer.OrdinalIgnoreCase)
    {
        ["inbound"] = new() { Name = "inbound", Endpoint = "127.0.0.1:10024", Protocol = ListenerProtocol.Smtp, Direction = MessageDirection.Inbound },
        ["originating"] = new() { Name = "originating", Endpoint = "127.0.0.1:10026", Protocol = ListenerProtocol.Smtp, Direction = MessageDirection.Originating },
        ["milter"] = new() { Name = "milter", Endpoint = "127.0.0.1:10027", Protocol = ListenerProtocol.Milter, Direction = MessageDirection.Inbound },
        ["policy"] = new() { Name = "policy", Endpoint = "127.0.0.1:10023", Protocol = ListenerProtocol.Policy, Direction = MessageDirection.Inbound },
    };
}

/// <summary>Where delivered mail goes: Postfix's second smtpd (FILTER_README).</summary>
public sealed class NextHopSettings
{
    /// <summary><c>127.0.0.1:10025</c> or <c>unix:/path</c>.</summary>
    public string Endpoint { get; set; } = "127.0.0.1:10025";

    /// <summary>Name we send in EHLO; empty = HostName.</summary>
    public string HeloName { get; set; } = string.Empty;

    /// <summary>Connect timeout, seconds.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 30;

    /// <summary>Timeout for each command reply, seconds.</summary>
    public int CommandTimeoutSeconds { get; set; } = 300;

    /// <summary>Timeout for the reply to the final dot, seconds (Postfix smtp_data_done_timeout is 600 s).</summary>
    public int DataDoneTimeoutSeconds { get; set; } = 600;

    /// <summary>Idle connections kept for reuse.</summary>
    public int MaxIdleConnections { get; set; } = 4;

    /// <summary>How long an idle connection is kept, seconds (below Postfix's smtpd_timeout of 300 s).</summary>
    public int IdleTimeoutSeconds { get; set; } = 60;
}

/// <summary>Spool settings.</summary>
public sealed class SpoolSettings
{
    /// <summary>Directory (created 0700). Default <c>/var/spool/contentfilter</c>.</summary>
    public string Directory { get; set; } = "/var/spool/contentfilter";

    /// <summary>Messages up to this many bytes stay in memory. Default 262144.</summary>
    public int InMemoryThreshold { get; set; } = 256 * 1024;

    /// <summary>fsync spool files before use. Default false (Postfix keeps its copy until our 2xx).</summary>
    public bool Fsync { get; set; }
}

/// <summary>Audit record settings.</summary>
public sealed class AuditSettings
{
    /// <summary>JSON-lines audit file; empty = none (the amavis-style line still goes to the log). Default <c>/var/log/contentfilter/audit.json</c>.</summary>
    public string File { get; set; } = "/var/log/contentfilter/audit.json";
}

/// <summary>Logging settings (Serilog).</summary>
public sealed class LoggingSettings
{
    /// <summary>Minimum level: Verbose, Debug, Information, Warning, Error. Default Information.</summary>
    public string Level { get; set; } = "Information";

    /// <summary>Console output as compact JSON instead of text (for log shippers). Default false.</summary>
    public bool Json { get; set; }
}

/// <summary>Protocol limits and timeouts, each with the reply it earns.</summary>
public sealed class LimitsSettings
{
    /// <summary>Largest message accepted, bytes (552 5.3.4 beyond). Default 52428800 (50 MiB), above Postfix's 10240000.</summary>
    public long MaxMessageSize { get; set; } = 50L * 1024 * 1024;

    /// <summary>Recipients per message (452 4.5.3 beyond). Default 1000.</summary>
    public int MaxRecipients { get; set; } = 1000;

    /// <summary>Header section bytes parsed for checks and edits. Default 1 MiB.</summary>
    public int MaxHeaderBytes { get; set; } = 1024 * 1024;

    /// <summary>Seconds to wait for a whole command line, however slowly it arrives. Default 300 (RFC 5321 §4.5.3.2).</summary>
    public int CommandTimeoutSeconds { get; set; } = 300;

    /// <summary>Seconds to wait for each DATA read. Default 300 (above Postfix's smtp_data_xfer_timeout of 180 s, so Postfix gives up first).</summary>
    public int DataTimeoutSeconds { get; set; } = 300;

    /// <summary>Seconds for the whole DATA phase (354 to the final dot), however busy the client keeps it; past it
    /// 421 4.4.2 and the connection is closed. Default 1200 (a 50 MiB message at about 44 KB/s).</summary>
    public int DataDeadlineSeconds { get; set; } = 1200;

    /// <summary>Seconds from the end of DATA to our final reply: checks plus reinjection (amavis: 480). Must stay
    /// below Postfix's <c>smtp_data_done_timeout</c> for the feed (the snippet sets 1200 s). Default 480.</summary>
    public int MessageTimeoutSeconds { get; set; } = 480;

    /// <summary>Seconds each check may take. Default 120.</summary>
    public int CheckTimeoutSeconds { get; set; } = 120;

    /// <summary>Seconds to let in-flight transactions finish at shutdown before 421. Default 30.</summary>
    public int DrainTimeoutSeconds { get; set; } = 30;
}
