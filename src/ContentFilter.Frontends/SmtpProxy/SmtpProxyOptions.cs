using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Frontends.SmtpProxy;

/// <summary>Limits and timeouts of the SMTP/LMTP proxy, each with a safe default and the reply it earns.</summary>
/// <remarks>
/// Time budget at the final dot: Postfix's smtp client waits <c>smtp_data_done_timeout</c> (600 s by default) for
/// our reply, and FILTER_README's feed raises it to 1200 s. Checks plus reinjection are bounded by
/// <see cref="MessageTimeout"/> (480 s, amavis's internal budget), which leaves room inside the default 600 s; past
/// it the transaction gets <c>451 4.4.7</c> and Postfix retries.
/// </remarks>
public sealed class SmtpProxyOptions
{
    /// <summary>Our name in the greeting and EHLO reply. Empty = the machine's name.</summary>
    public string HostName { get; set; } = string.Empty;

    /// <summary>Largest message accepted, in bytes after dot-unstuffing; advertised as <c>SIZE</c> (RFC 1870).
    /// Beyond it: <c>552 5.3.4 Message size exceeds fixed limit</c>. Default 52428800 (50 MiB), above Postfix's
    /// <c>message_size_limit</c> default 10240000 so everything Postfix accepted passes through.</summary>
    /// <remarks>Past the limit the rest of DATA is read and discarded so the client hears 552 after its dot; a client
    /// still sending at twice the limit hears 552 at once and is disconnected (an endless DATA ends there). Postfix
    /// never gets that far: it sends <c>SIZE=</c> and hears 552 at MAIL.</remarks>
    public long MaxMessageSize { get; set; } = 50L * 1024 * 1024;

    /// <summary>Recipients per message; more get <c>452 4.5.3 Error: too many recipients</c> (RFC 5321 §4.5.3.1.10: at
    /// least 100). Default 1000, Postfix's <c>smtpd_recipient_limit</c>; set the feed's
    /// <c>smtp_destination_recipient_limit</c> at or below it.</summary>
    public int MaxRecipients { get; set; } = 1000;

    /// <summary>Bytes of the header section parsed for checks and edits; the rest still passes verbatim. Default 1 MiB.</summary>
    public int MaxHeaderBytes { get; set; } = 1024 * 1024;

    /// <summary>Command line cap including CRLF (RFC 5321 §4.5.3.1.4). Default 512.</summary>
    public int MaxCommandLineLength { get; set; } = SmtpCommandLineReader.DefaultMaxLineLength;

    /// <summary>MAIL/RCPT line cap, raised by SIZE, BODY, SMTPUTF8 and DSN parameters (RFC 3461 ORCPT up to 500). Default 2048.</summary>
    public int MaxMailRcptLineLength { get; set; } = SmtpCommandLineReader.DefaultMaxMailRcptLineLength;

    /// <summary>Wait for the next command (RFC 5321 §4.5.3.2.7: at least 5 minutes). Default 300 s; then <c>421 4.4.2</c>.</summary>
    /// <remarks>It bounds the whole command line, not each read (Postfix's <c>smtpd_per_record_deadline</c>), so a client
    /// sending one byte at a time cannot hold the session.</remarks>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Wait for each read of DATA (RFC 5321 §4.5.3.2.6 "DATA block": 3 minutes). Default 300 s, above Postfix's
    /// <c>smtp_data_xfer_timeout</c> (180 s) so the client gives up first.</summary>
    public TimeSpan DataTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>The whole DATA phase, from our 354 to the client's final dot. Default 1200 s; past it <c>421 4.4.2</c> and the
    /// connection is closed (nothing delivered, Postfix retries).</summary>
    /// <remarks><see cref="DataTimeout"/> bounds each read only, so without this a client trickling a byte now and then,
    /// or sending without end, would hold its session (and one of <c>MaxSessions</c>) forever. 1200 s lets a 50 MiB
    /// message through at about 44 KB/s.</remarks>
    public TimeSpan DataDeadline { get; set; } = TimeSpan.FromSeconds(1200);

    /// <summary>Checks plus reinjection for one message. Default 480 s, inside Postfix's <c>smtp_data_done_timeout</c> (600 s);
    /// raise both together (FILTER_README's feed uses 1200 s).</summary>
    public TimeSpan MessageTimeout { get; set; } = TimeSpan.FromSeconds(480);

    /// <summary>Errors before the session is closed with <c>421 4.7.0</c> (Postfix <c>smtpd_hard_error_limit</c>). Default 20.</summary>
    public int MaxErrors { get; set; } = 20;

    /// <summary>Checks the options; one message per problem.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxMessageSize < 10_240_000)
        {
            errors.Add($"MaxMessageSize {MaxMessageSize} is below Postfix's default message_size_limit (10240000): mail Postfix accepted would be refused");
        }
        if (MaxRecipients < 100)
        {
            errors.Add($"MaxRecipients {MaxRecipients} is below RFC 5321's minimum of 100");
        }
        if (MaxHeaderBytes < 64 * 1024)
        {
            errors.Add($"MaxHeaderBytes {MaxHeaderBytes} is below 65536");
        }
        if (MaxCommandLineLength < 512)
        {
            errors.Add($"MaxCommandLineLength {MaxCommandLineLength} is below RFC 5321's 512");
        }
        if (MaxMailRcptLineLength < MaxCommandLineLength)
        {
            errors.Add("MaxMailRcptLineLength must not be below MaxCommandLineLength");
        }
        if (CommandTimeout <= TimeSpan.Zero || DataTimeout <= TimeSpan.Zero || DataDeadline <= TimeSpan.Zero || MessageTimeout <= TimeSpan.Zero)
        {
            errors.Add("CommandTimeout, DataTimeout, DataDeadline and MessageTimeout must be positive");
        }
        if (MaxErrors < 1)
        {
            errors.Add("MaxErrors must be at least 1");
        }
        return errors;
    }
}
