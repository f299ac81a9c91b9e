using System.Buffers;

namespace ContentFilter.Protocols.Smtp;

/// <summary>Turns stored message bytes into the SMTP DATA form, chunk by chunk: dots stuffed, CRLF.CRLF appended.</summary>
/// <remarks>
/// <para><b>The rule.</b> A <c>.</c> is doubled when it is the first byte of the message or when the byte before it is a
/// CR or an LF, whether that CR or LF is part of a CRLF pair or stands alone. Nothing else is changed: line ends
/// (including bare CR and bare LF) are written as stored. <see cref="Complete"/> then writes <c>CRLF . CRLF</c>, or
/// only <c>. CRLF</c> when the message already ends in CRLF (or is empty: the DATA command's CRLF precedes it).</para>
/// <para><b>Why more than RFC 5321 §4.5.2.</b> The RFC only asks to double a dot at the start of a line, i.e. after
/// CRLF. But a receiver may take a bare LF (Postfix before 3.9, or with <c>smtpd_forbid_bare_newline = no</c>,
/// treats LF as a line end) or a bare CR (some other MTAs) as a line end, and then <c>&lt;LF&gt;.&lt;LF&gt;</c>,
/// <c>&lt;LF&gt;.&lt;CRLF&gt;</c>, <c>&lt;CR&gt;.&lt;CR&gt;</c>, <c>&lt;CRLF&gt;.&lt;LF&gt;</c> ... inside a stored message
/// would end DATA early and let the rest be read as new commands: SMTP smuggling (CVE-2023-51764 and relatives).
/// Because every dot after any CR or LF is doubled, no byte sequence of the message can look like an end of data to
/// a receiver with any of these line-end notions; the only unstuffed dot we ever write is our own terminator.</para>
/// <para><b>Cost.</b> A receiver that only treats CRLF as a line end (Postfix 3.9+ with strict settings) keeps the
/// extra dot after a bare CR or bare LF, so such a message gains one byte there. Bare CR and LF are not allowed in
/// RFC 5322 messages at all, and a dot right after one is the smuggling pattern itself; we accept that change over
/// letting the next hop see a second message. Messages with proper CRLF line ends pass byte for byte.</para>
/// <para>The state between chunks is the last two bytes written and whether anything was written, so a chunk boundary
/// anywhere (between CR and LF, between LF and dot) gives the same output as one big chunk.</para>
/// </remarks>
public sealed class SmtpDotStuffer
{
    private const byte Cr = (byte)'\r';
    private const byte Lf = (byte)'\n';
    private const byte Dot = (byte)'.';
    private static ReadOnlySpan<byte> CrLfDotCrLf => "\r\n.\r\n"u8;

    private byte _last = Lf;
    private byte _beforeLast;
    private long _length;
    private bool _completed;

    /// <summary>Message bytes consumed so far (before stuffing).</summary>
    public long MessageLength => _length;

    /// <summary>Writes the DATA form of <paramref name="source"/> (a chunk of the message) to <paramref name="destination"/>.</summary>
    public void Write(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        if (_completed)
        {
            throw new InvalidOperationException("The message was already terminated.");
        }
        int start = 0;
        int i = 0;
        while (i < source.Length)
        {
            int relative = source[i..].IndexOf(Dot);
            if (relative < 0)
            {
                break;
            }
            int dot = i + relative;
            byte previous = dot == 0 ? _last : source[dot - 1];
            if (previous is Cr or Lf)
            {
                destination.Write(source[start..dot]);
                destination.Write("."u8);
                start = dot; // the stored dot goes out with the next run
            }
            i = dot + 1;
        }
        destination.Write(source[start..]);

        if (source.Length >= 2)
        {
            _beforeLast = source[^2];
            _last = source[^1];
        }
        else if (source.Length == 1)
        {
            _beforeLast = _last;
            _last = source[0];
        }
        _length += source.Length;
    }

    /// <summary>Writes the end of data: <c>CRLF.CRLF</c>, without the first CRLF when the message ends in one or is empty.</summary>
    public void Complete(IBufferWriter<byte> destination)
    {
        if (_completed)
        {
            throw new InvalidOperationException("The message was already terminated.");
        }
        _completed = true;
        bool endsInCrLf = _length == 0 || (_length >= 2 && _beforeLast == Cr && _last == Lf);
        destination.Write(endsInCrLf ? CrLfDotCrLf[2..] : CrLfDotCrLf);
    }

    /// <summary>Stuffs a whole message at once (tests, small messages such as DSNs).</summary>
    public static byte[] StuffAll(ReadOnlySpan<byte> message)
    {
        var buffer = new ArrayBufferWriter<byte>(message.Length + 16);
        var stuffer = new SmtpDotStuffer();
        stuffer.Write(message, buffer);
        stuffer.Complete(buffer);
        return buffer.WrittenSpan.ToArray();
    }
}
