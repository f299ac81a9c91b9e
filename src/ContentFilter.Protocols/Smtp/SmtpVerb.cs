namespace ContentFilter.Protocols.Smtp;

/// <summary>Command words the proxy knows (RFC 5321 §4.1.1, RFC 2033 §4.1, XFORWARD_README).</summary>
public enum SmtpVerb
{
    /// <summary><c>EHLO</c> (RFC 5321 §4.1.1.1).</summary>
    Ehlo,

    /// <summary><c>HELO</c> (RFC 5321 §4.1.1.1).</summary>
    Helo,

    /// <summary><c>LHLO</c> (RFC 2033 §4.1), LMTP's EHLO.</summary>
    Lhlo,

    /// <summary><c>MAIL FROM:</c> (RFC 5321 §4.1.1.2).</summary>
    Mail,

    /// <summary><c>RCPT TO:</c> (RFC 5321 §4.1.1.3).</summary>
    Rcpt,

    /// <summary><c>DATA</c> (RFC 5321 §4.1.1.4).</summary>
    Data,

    /// <summary><c>RSET</c> (RFC 5321 §4.1.1.5).</summary>
    Rset,

    /// <summary><c>VRFY</c> (RFC 5321 §4.1.1.6); we answer 252.</summary>
    Vrfy,

    /// <summary><c>HELP</c> (RFC 5321 §4.1.1.8).</summary>
    Help,

    /// <summary><c>NOOP</c> (RFC 5321 §4.1.1.9).</summary>
    Noop,

    /// <summary><c>QUIT</c> (RFC 5321 §4.1.1.10).</summary>
    Quit,

    /// <summary><c>XFORWARD</c> (Postfix XFORWARD_README): the original client's attributes.</summary>
    Xforward,
}
