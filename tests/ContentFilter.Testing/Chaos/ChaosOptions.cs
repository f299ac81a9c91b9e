namespace ContentFilter.Testing.Chaos;

/// <summary>What one chaos run sends and which faults it injects. The defaults are the reduced run of the test suite.</summary>
public sealed class ChaosOptions
{
    /// <summary>Messages to send.</summary>
    public int Messages { get; set; } = 300;

    /// <summary>Smallest message, bytes.</summary>
    public int MinSize { get; set; } = 1024;

    /// <summary>Largest message, bytes (the full run: 5 MB).</summary>
    public int MaxSize { get; set; } = 300 * 1024;

    /// <summary>Seeds the message generator (sizes, text, attachments): the same seed sends the same bytes.</summary>
    public int Seed { get; set; } = 20261205;

    /// <summary>Every Nth message has an 8-bit body (0 = none).</summary>
    public int EightBitEvery { get; set; } = 4;

    /// <summary>The door the front Postfix uses: the after-queue proxy (default) or the milter.</summary>
    public ChaosDoor Door { get; set; } = ChaosDoor.Proxy;

    /// <summary>How long a sender keeps retrying a message the front Postfix answers 4xx (or drops) before it gives up on it.</summary>
    public TimeSpan SenderRetryBudget { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Every Nth message is DKIM-signed (0 = none).</summary>
    public int SignedEvery { get; set; } = 5;

    /// <summary>Every Nth message carries EICAR (only with <see cref="Antivirus"/>; 0 = none).</summary>
    public int VirusEvery { get; set; }

    /// <summary>Parallel SMTP sessions sending to the front Postfix.</summary>
    public int Sessions { get; set; } = 4;

    /// <summary>How many times the filter is SIGKILLed (and restarted) while mail flows.</summary>
    public int Kills { get; set; } = 1;

    /// <summary>How long the filter stays dead after each SIGKILL before it is started again.</summary>
    public TimeSpan DeadTime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The next hop (a second Postfix) is stopped this long once; null = no outage.</summary>
    public TimeSpan? NextHopOutage { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Scan with a real clamd (the repository's test signatures), fail closed.</summary>
    public bool Antivirus { get; set; }

    /// <summary>clamd is stopped this long once (needs <see cref="Antivirus"/>); null = no outage.</summary>
    public TimeSpan? ClamdOutage { get; set; }

    /// <summary>The spool is a tmpfs of this many MiB mounted for the run (needs root); 0 = a plain directory.</summary>
    public int SpoolTmpfsMegabytes { get; set; }

    /// <summary>The spool tmpfs is filled to the last byte this long once (needs <see cref="SpoolTmpfsMegabytes"/>); null = never.</summary>
    public TimeSpan? SpoolFull { get; set; }

    /// <summary>Postfix's <c>queue_run_delay</c> and <c>minimal_backoff_time</c> (both instances).</summary>
    public string RetryDelay { get; set; } = "5s";

    /// <summary>Postfix's <c>maximal_backoff_time</c>.</summary>
    public string MaximalBackoff { get; set; } = "20s";

    /// <summary>After sending and the faults: how long <c>postfix flush</c> may take to empty both queues.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The whole run's budget (sending, faults, drain); past it the run stops and reports what it has.</summary>
    public TimeSpan RunTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>The service assembly; null = <c>contentfilter.dll</c> beside the running assembly.</summary>
    public string? FilterBinary { get; set; }

    /// <summary>Progress lines (the console, or a test's output).</summary>
    public Action<string> Log { get; set; } = _ => { };
}
