namespace ContentFilter.Checks.Antivirus;

/// <summary>Settings of the clamd client and the <c>clamav</c> check (config section <c>ContentFilter:ClamAv</c>).</summary>
public sealed class ClamAvOptions
{
    /// <summary>Run the virus scan. Default true (and a scanner failure fails closed: 4xx).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Debian's clamd socket, used when <see cref="Servers"/> is empty.</summary>
    public const string DefaultServer = "unix:/var/run/clamav/clamd.ctl";

    /// <summary>clamd addresses, tried round robin with failover; empty means <see cref="DefaultServer"/>.
    /// TCP form: <c>127.0.0.1:3310</c>.</summary>
    /// <remarks>Empty by default rather than holding the default, because configuration binding appends to a
    /// list: a configured server would otherwise be tried beside Debian's socket.</remarks>
    public List<string> Servers { get; set; } = new();

    /// <summary>The servers in use: <see cref="Servers"/>, or <see cref="DefaultServer"/> when none are set.</summary>
    public IReadOnlyList<string> EffectiveServers => Servers.Count == 0 ? new[] { DefaultServer } : Servers;

    /// <summary>Time to establish a connection to one clamd, including waits for room when its listen queue is
    /// full (MaxConnectionQueueLength; Debian: 15). Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time for one whole exchange with one clamd after connecting (upload and reply). Default 120 s.</summary>
    /// <remarks>A clamd that accepts and never answers costs this much per server; keep the sum over servers
    /// below the pipeline's per-check timeout and Postfix's <c>smtp_data_done_timeout</c>.</remarks>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>INSTREAM chunk size. Default 64 KiB, read into one reused buffer.</summary>
    public int ChunkSize { get; set; } = 64 * 1024;

    /// <summary>Largest message sent to clamd, in bytes; larger ones are not scanned (an <c>Oversized</c> result,
    /// which the policy maps). Keep it at or below clamd's StreamMaxLength (Debian: 25M). Default 25 MiB.</summary>
    public long MaxScanSize { get; set; } = 25L * 1024 * 1024;

    /// <summary>Checks the values; returns problems in words (empty when fine).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (string s in EffectiveServers)
        {
            if (!ScannerEndpoint.TryParse(s, 3310, out _, out string? error))
            {
                errors.Add($"Servers: {error}");
            }
        }
        if (ConnectTimeout <= TimeSpan.Zero)
        {
            errors.Add("ConnectTimeout must be positive");
        }
        if (Timeout <= TimeSpan.Zero)
        {
            errors.Add("Timeout must be positive");
        }
        if (ChunkSize is < 1024 or > 16 * 1024 * 1024)
        {
            errors.Add("ChunkSize must be between 1024 and 16777216");
        }
        if (MaxScanSize <= 0)
        {
            errors.Add("MaxScanSize must be positive");
        }
        return errors;
    }
}
