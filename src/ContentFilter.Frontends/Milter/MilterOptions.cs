using ContentFilter.Protocols.Milter;

namespace ContentFilter.Frontends.Milter;

/// <summary>Settings of the milter front door (config section <c>Milter</c>).</summary>
/// <remarks>Every limit has a safe default; <see cref="Validate"/> runs at start-up.</remarks>
public sealed class MilterOptions
{
    /// <summary>Largest packet accepted; the length prefix is checked before anything is allocated. Default 1 MiB.</summary>
    public int MaxPacketSize { get; set; } = MilterLimits.DefaultMaxPacketSize;

    /// <summary>
    /// How long the MTA may stay silent between packets. Postfix keeps the milter connection for the whole SMTP
    /// session and waits for its client up to <c>smtpd_timeout</c> (300 s) per command, so this must be longer.
    /// Default 10 minutes.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a started packet may take to arrive completely (a peer that stops mid-packet). Default 30 s.</summary>
    public TimeSpan PacketTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Interval of <c>SMFIR_PROGRESS</c> packets while the checks run at end of message, so Postfix's
    /// <c>milter_content_timeout</c> (300 s) does not expire during a long scan. Default 30 s.
    /// </summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The <c>{daemon_name}</c> that marks originating mail (<c>-o milter_macro_daemon_name=ORIGINATING</c> on the
    /// submission service, as amavis and OpenDKIM document it). Default <c>ORIGINATING</c>.
    /// </summary>
    public string OriginatingDaemonName { get; set; } = "ORIGINATING";

    /// <summary>Ask the greylist at RCPT time (inbound mail only, needs a greylist configured). Default false.</summary>
    public bool GreylistAtRcpt { get; set; }

    /// <summary>Send our own macro lists in the negotiation (needs Postfix 2.10+). Default true.</summary>
    public bool RequestMacros { get; set; } = true;

    /// <summary>Header section bytes parsed for the checks; the spool keeps everything. Default 1 MiB.</summary>
    public int MaxHeaderBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Messages the policy quarantines are also put on Postfix's hold queue with <c>SMFIR_QUARANTINE</c> when they
    /// would otherwise be delivered, or discarded without a quarantine store. Default true.
    /// </summary>
    public bool HoldQuarantined { get; set; } = true;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (MaxPacketSize < 64 * 1024 + 1 || MaxPacketSize > 64 * 1024 * 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPacketSize), MaxPacketSize, "Must be between 64 KiB + 1 (a full body chunk) and 64 MiB.");
        }
        if (IdleTimeout <= TimeSpan.Zero || PacketTimeout <= TimeSpan.Zero || ProgressInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(IdleTimeout), "Timeouts and the progress interval must be positive.");
        }
        if (MaxHeaderBytes < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxHeaderBytes), MaxHeaderBytes, "Must be at least 1024.");
        }
    }
}
