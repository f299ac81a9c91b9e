namespace ContentFilter.Pipeline.Quarantine;

/// <summary>Where and how long blocked mail is kept (config section <c>Quarantine</c>).</summary>
public sealed class QuarantineOptions
{
    /// <summary>The quarantine directory, created 0700; files are 0600 (they hold hostile content and private mail).
    /// Default <c>/var/lib/contentfilter/quarantine</c>.</summary>
    public string Directory { get; set; } = "/var/lib/contentfilter/quarantine";

    /// <summary>Days a quarantined message is kept before <see cref="FileQuarantineStore.PurgeExpired"/> deletes it.
    /// Default 30; 0 keeps messages forever.</summary>
    public int RetentionDays { get; set; } = 30;
}
