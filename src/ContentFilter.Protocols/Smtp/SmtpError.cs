namespace ContentFilter.Protocols.Smtp;

/// <summary>Why a command line or its arguments were refused. Each reason maps to exactly one reply (<see cref="SmtpErrorReply"/>).</summary>
/// <remarks>Codecs fail with a reason instead of throwing, so a hostile client costs a reply, never a crash (STYLE.md example 2).</remarks>
public enum SmtpError
{
    /// <summary>No error.</summary>
    None,

    /// <summary>A command line longer than the cap (RFC 5321 §4.5.3.1.4: 512 octets including CRLF). <c>500 5.5.2</c>.</summary>
    LineTooLong,

    /// <summary>A NUL byte in a command line (RFC 5321 §4.1.1: commands are printable text). <c>500 5.5.2</c>.</summary>
    NulCharacter,

    /// <summary>The command word is not known (RFC 5321 §4.2.4). <c>500 5.5.1</c>.</summary>
    UnknownCommand,

    /// <summary>A known command we do not offer (BDAT, STARTTLS, AUTH, EXPN, ETRN, TURN). <c>502 5.5.1</c>.</summary>
    NotImplemented,

    /// <summary>Arguments do not match the command's grammar. <c>501 5.5.4</c>.</summary>
    SyntaxError,

    /// <summary>The MAIL reverse-path does not parse (RFC 5321 §4.1.2). <c>501 5.1.7</c>.</summary>
    BadReversePath,

    /// <summary>The RCPT forward-path does not parse (RFC 5321 §4.1.2). <c>501 5.1.3</c>.</summary>
    BadForwardPath,

    /// <summary>An ESMTP parameter we do not support (RFC 5321 §4.1.1.11). <c>555 5.5.4</c>.</summary>
    UnsupportedParameter,

    /// <summary>A malformed value of a parameter we support (<c>SIZE=x</c>, <c>BODY=9BIT</c>). <c>501 5.5.4</c>.</summary>
    BadParameterValue,

    /// <summary>An XFORWARD attribute name, value or xtext encoding we do not accept (XFORWARD_README). <c>501 5.5.4</c>.</summary>
    BadXforwardAttribute,
}
