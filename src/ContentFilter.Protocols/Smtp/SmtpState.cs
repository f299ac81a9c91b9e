namespace ContentFilter.Protocols.Smtp;

/// <summary>Where an SMTP/LMTP session stands (RFC 5321 §4.1.4 command order).</summary>
public enum SmtpState
{
    /// <summary>Greeting sent, no EHLO/HELO/LHLO yet.</summary>
    Connected,

    /// <summary>After EHLO/HELO/LHLO, outside a transaction.</summary>
    Ready,

    /// <summary>After MAIL, no accepted RCPT yet.</summary>
    MailGiven,

    /// <summary>After at least one accepted RCPT.</summary>
    RcptGiven,
}
