namespace ContentFilter.Pipeline.Messages;

/// <summary>Where and how messages are spooled while they are checked.</summary>
public sealed class SpoolOptions
{
    /// <summary>Spool directory, created 0700. Default <c>/var/spool/contentfilter</c>.</summary>
    public string Directory { get; set; } = "/var/spool/contentfilter";

    /// <summary>Messages up to this size stay in memory; larger ones go to a 0600 file. Default 256 KiB.</summary>
    public int InMemoryThreshold { get; set; } = 256 * 1024;

    /// <summary>Call fsync before a spooled message is handed on (costs latency; Postfix still holds its copy). Default false.</summary>
    public bool Fsync { get; set; }
}
