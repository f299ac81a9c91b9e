using ContentFilter.Checks.Antivirus;
using ContentFilter.Protocols.Spamd;

namespace ContentFilter.Checks.Spam;

/// <summary>What to do with a message above <see cref="SpamAssassinOptions.MaxSize"/>.</summary>
public enum SpamOversizedMode
{
    /// <summary>Send the first <c>MaxSize</c> bytes cut at a line end, with a pseudo header saying so (amavis).</summary>
    Truncate,

    /// <summary>Do not scan (spamc's behaviour): the result is Skipped.</summary>
    Skip,
}

/// <summary>Settings of the spamd client and the <c>spamassassin</c> check (config section <c>Spam</c>).</summary>
public sealed class SpamAssassinOptions
{
    /// <summary>Run the spam scan. Default true (a scanner failure fails open, marked Unchecked).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>spamd's own default address, used when <see cref="Servers"/> is empty.</summary>
    public const string DefaultServer = "127.0.0.1:783";

    /// <summary>spamd addresses, round robin with failover; empty means <see cref="DefaultServer"/>.</summary>
    /// <remarks>Empty by default because configuration binding appends to a list.</remarks>
    public List<string> Servers { get; set; } = new();

    /// <summary>The servers in use: <see cref="Servers"/>, or <see cref="DefaultServer"/> when none are set.</summary>
    public IReadOnlyList<string> EffectiveServers => Servers.Count == 0 ? new[] { DefaultServer } : Servers;

    /// <summary>Time to connect to one spamd, including waits for room when a unix socket's listen queue is full.
    /// Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time for one whole exchange with one spamd (upload, scan, reply). Default 60 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>spamd's <c>User:</c> (whose preferences apply); null or empty to send none.</summary>
    public string? User { get; set; }

    /// <summary>Command: <c>Symbols</c> (rule names) or <c>Report</c>. Default Symbols.</summary>
    public SpamdCommand Command { get; set; } = SpamdCommand.Symbols;

    /// <summary>Largest number of message bytes sent to spamd. Default 512000 (spamc's 500 KiB): spamd holds the
    /// whole message in memory and scores big mail slowly.</summary>
    public long MaxSize { get; set; } = 512_000;

    /// <summary>Messages above <see cref="MaxSize"/>: truncate (default) or skip.</summary>
    public SpamOversizedMode Oversized { get; set; } = SpamOversizedMode.Truncate;

    /// <summary>Upload chunk size. Default 64 KiB from one pooled buffer.</summary>
    public int ChunkSize { get; set; } = 64 * 1024;

    /// <summary>Checks the values; returns problems in words (empty when fine).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (string s in EffectiveServers)
        {
            if (!ScannerEndpoint.TryParse(s, 783, out _, out string? error))
            {
                errors.Add($"Servers: {error}");
            }
        }
        if (ConnectTimeout <= TimeSpan.Zero || Timeout <= TimeSpan.Zero)
        {
            errors.Add("ConnectTimeout and Timeout must be positive");
        }
        if (MaxSize < 1024)
        {
            errors.Add("MaxSize must be at least 1024");
        }
        if (Command is not (SpamdCommand.Symbols or SpamdCommand.Report))
        {
            errors.Add("Command must be Symbols or Report");
        }
        if (!string.IsNullOrEmpty(User) && (User.Length > 255 || User.Any(c => c < 0x21 || c > 0x7E)))
        {
            errors.Add("User must be printable ASCII without spaces");
        }
        if (ChunkSize is < 1024 or > 16 * 1024 * 1024)
        {
            errors.Add("ChunkSize must be between 1024 and 16777216");
        }
        return errors;
    }
}
