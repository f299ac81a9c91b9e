namespace ContentFilter.Testing.Daemons;

/// <summary>How a private Postfix instance is wired; every port is chosen at start.</summary>
public sealed class PostfixOptions
{
    /// <summary>The domain delivered into the one maildir (<c>virtual_mailbox_domains</c>).</summary>
    public string Domain { get; set; } = "dest.test";

    /// <summary><c>myhostname</c> (an FQDN: Postfix refuses a bare name).</summary>
    public string HostName { get; set; } = "mx.postfix.test";

    /// <summary>
    /// When set, mail received on the internet-facing smtpd goes to <c>content_filter = cfilter:[127.0.0.1]:PORT</c>
    /// with the FILTER_README transport overrides (PROTOCOLS.md §1).
    /// </summary>
    public int? ContentFilterPort { get; set; }

    /// <summary>The Postfix client of the <c>cfilter</c> transport: <c>smtp</c> or <c>lmtp</c>.</summary>
    public string FilterTransport { get; set; } = "smtp";

    /// <summary>Adds the reinjection smtpd (<c>-o content_filter=</c> and the other FILTER_README overrides) on its own port.</summary>
    public bool ReinjectionListener { get; set; }

    /// <summary><c>message_size_limit</c> (0 = none). Raise it for the large-message tests.</summary>
    public long MessageSizeLimit { get; set; } = 10_240_000;

    /// <summary><c>queue_run_delay</c>, <c>minimal_backoff_time</c>, <c>maximal_backoff_time</c>: short, so retry tests need only a flush.</summary>
    public string QueueRunDelay { get; set; } = "10s";

    /// <inheritdoc cref="QueueRunDelay"/>
    public string MinimalBackoffTime { get; set; } = "10s";

    /// <inheritdoc cref="QueueRunDelay"/>
    public string MaximalBackoffTime { get; set; } = "60s";

    /// <summary>Extra <c>main.cf</c> lines (<c>name = value</c>), appended last so they win (e.g. <c>smtpd_milters = inet:127.0.0.1:PORT</c>).</summary>
    public List<string> MainCf { get; } = new();

    /// <summary>Extra <c>master.cf</c> entries, appended verbatim (continuation lines start with whitespace).</summary>
    public List<string> MasterCf { get; } = new();

    /// <summary>Extra <c>-o name=value</c> overrides (without the <c>-o</c>) of the internet-facing smtpd.</summary>
    public List<string> SmtpdOverrides { get; } = new();

    /// <summary>Extra overrides of the reinjection smtpd.</summary>
    public List<string> ReinjectionOverrides { get; } = new();

    /// <summary>Extra overrides of the <c>cfilter</c> transport.</summary>
    public List<string> FilterTransportOverrides { get; } = new();
}
