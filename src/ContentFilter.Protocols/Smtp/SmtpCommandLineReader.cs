using System.Buffers;

namespace ContentFilter.Protocols.Smtp;

/// <summary>Reads SMTP command lines with a length cap that is applied before the line end is searched for.</summary>
/// <remarks>
/// <para>Lines end in CRLF (RFC 5321 §2.3.8). A bare LF also ends a command line, as in Postfix's smtpd
/// (<c>smtp_get</c>: "allow for lines ending in bare LF"); one CR before the LF is removed, any other CR stays in the
/// line and the parser refuses it. Accepting LF here cannot smuggle anything: command lines never reach the next hop,
/// and the DATA decoder applies its own rules.</para>
/// <para>The cap is 512 octets including the line end (RFC 5321 §4.5.3.1.4). MAIL and RCPT get
/// <see cref="MaxMailRcptLineLength"/> instead because the extensions we advertise raise their limit (RFC 1870 SIZE,
/// RFC 6152 BODY, RFC 6531 SMTPUTF8, and RFC 3461 ORCPT of up to 500 characters plus ENVID of up to 100). Refusing
/// such a line would bounce legitimate DSN mail that Postfix hands us.</para>
/// <para>A line over the cap is never buffered whole: the reader consumes what it examined, skips to the next LF and
/// only then reports <see cref="SmtpError.LineTooLong"/>, once, so that replies stay in order with pipelined commands.
/// A NUL byte yields <see cref="SmtpError.NulCharacter"/> for that line.</para>
/// </remarks>
public sealed class SmtpCommandLineReader
{
    /// <summary>RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.</summary>
    public const int DefaultMaxLineLength = 512;

    /// <summary>The cap for MAIL and RCPT lines (Postfix's <c>line_length_limit</c> is 2048).</summary>
    public const int DefaultMaxMailRcptLineLength = 2048;

    private readonly int _maxLine;
    private readonly int _maxMailRcptLine;
    private bool _skipping;

    /// <summary>Creates a reader with the given caps (each including the line end).</summary>
    public SmtpCommandLineReader(int maxLineLength = DefaultMaxLineLength, int maxMailRcptLineLength = DefaultMaxMailRcptLineLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineLength, 16);
        _maxLine = maxLineLength;
        _maxMailRcptLine = Math.Max(maxLineLength, maxMailRcptLineLength);
    }

    /// <summary>The cap for commands other than MAIL and RCPT.</summary>
    public int MaxLineLength => _maxLine;

    /// <summary>The cap for MAIL and RCPT.</summary>
    public int MaxMailRcptLineLength => _maxMailRcptLine;

    /// <summary>True while the rest of an over-long line is being skipped.</summary>
    public bool IsSkipping => _skipping;

    /// <summary>Reads one line (without its line end).</summary>
    /// <returns>True with a line; false with <see cref="SmtpError.None"/> when more input is needed; false with an error when a line was refused (and consumed).</returns>
    public bool TryRead(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> line, out SmtpError error)
    {
        line = default;
        error = SmtpError.None;
        if (_skipping)
        {
            return SkipRest(ref reader, out error);
        }

        ReadOnlySequence<byte> unread = reader.UnreadSequence;
        long window = Math.Min(unread.Length, _maxMailRcptLine);
        SequencePosition? lf = unread.Slice(0, window).PositionOf((byte)'\n');
        if (lf is null)
        {
            if (unread.Length < _maxMailRcptLine && !(unread.Length >= _maxLine && StartsWithShortCommand(unread)))
            {
                return false; // need more
            }
            // Over the cap without a line end: drop what we examined and skip to the end of the line.
            reader.Advance(window);
            _skipping = true;
            return SkipRest(ref reader, out error);
        }

        ReadOnlySequence<byte> withEnd = unread.Slice(0, unread.GetPosition(1, lf.Value));
        long total = withEnd.Length;
        reader.Advance(total);
        ReadOnlySequence<byte> content = withEnd.Slice(0, total - 1);
        if (content.Length > 0 && EndsWithCr(content))
        {
            content = content.Slice(0, content.Length - 1);
        }
        else
        {
            total++; // count a bare LF as the CRLF it stands for
        }
        if (total > _maxLine && (total > _maxMailRcptLine || !IsMailOrRcpt(content)))
        {
            error = SmtpError.LineTooLong;
            return false;
        }
        if (content.PositionOf((byte)0) is not null)
        {
            error = SmtpError.NulCharacter;
            return false;
        }
        line = content;
        return true;
    }

    private bool SkipRest(ref SequenceReader<byte> reader, out SmtpError error)
    {
        if (reader.TryAdvanceTo((byte)'\n', advancePastDelimiter: true))
        {
            _skipping = false;
            error = SmtpError.LineTooLong;
            return false;
        }
        reader.AdvanceToEnd();
        error = SmtpError.None;
        return false;
    }

    private static bool EndsWithCr(ReadOnlySequence<byte> content)
    {
        ReadOnlySequence<byte> last = content.Slice(content.Length - 1);
        return last.FirstSpan[0] == (byte)'\r';
    }

    private static bool StartsWithShortCommand(ReadOnlySequence<byte> unread) => unread.Length >= 4 && !IsMailOrRcpt(unread);

    private static bool IsMailOrRcpt(ReadOnlySequence<byte> content)
    {
        if (content.Length < 4)
        {
            return false;
        }
        Span<byte> word = stackalloc byte[4];
        content.Slice(0, 4).CopyTo(word);
        for (int i = 0; i < 4; i++)
        {
            word[i] = (byte)(word[i] | 0x20);
        }
        return word.SequenceEqual("mail"u8) || word.SequenceEqual("rcpt"u8);
    }
}
