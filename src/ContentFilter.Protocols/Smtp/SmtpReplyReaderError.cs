namespace ContentFilter.Protocols.Smtp;

/// <summary>Why a server reply could not be read; each one means the peer is broken and the connection is dropped.</summary>
public enum SmtpReplyReaderError
{
    /// <summary>No error.</summary>
    None = 0,

    /// <summary>A line is longer than <see cref="SmtpReplyReaderLimits.MaxLineLength"/> (RFC 5321 §4.5.3.1.5 allows 512).</summary>
    LineTooLong,

    /// <summary>A multi-line reply has more lines than <see cref="SmtpReplyReaderLimits.MaxLines"/>.</summary>
    TooManyLines,

    /// <summary>A line does not start with three digits, the first 2-5 (RFC 5321 §4.2 <c>Reply-code</c>).</summary>
    BadCode,

    /// <summary>The code is followed by something other than SP, <c>-</c> or the line end.</summary>
    BadSeparator,

    /// <summary>The lines of one multi-line reply carry different codes (RFC 5321 §4.2.1 requires the same code).</summary>
    CodeMismatch,

    /// <summary>A NUL byte or another control character other than HT in the text: not a reply, and unsafe to log.</summary>
    ControlCharacter,
}
