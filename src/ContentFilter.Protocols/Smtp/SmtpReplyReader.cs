using System.Buffers;
using System.Text;

namespace ContentFilter.Protocols.Smtp;

/// <summary>Reads one complete server reply (RFC 5321 §4.2), single- or multi-line, from received bytes.</summary>
/// <remarks>
/// <para>Grammar (RFC 5321 §4.2): <c>Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF</c>,
/// <c>Reply-code = %x32-35 %x30-35 %x30-39</c>. A bare LF is accepted as a line end (a trailing CR is stripped),
/// because being lenient about the server's line ends cannot change what we send.</para>
/// <para>Every line is capped before it is searched (<see cref="SmtpReplyReaderLimits"/>), so a peer that never sends
/// a line end costs at most <c>MaxLineLength</c> bytes of scanning per call, and a reply at most
/// <c>MaxLines × MaxLineLength</c> bytes. Anything that is not a reply is a typed <see cref="SmtpReplyReaderError"/>;
/// the caller treats it as a broken connection (temporary failure), never as an answer.</para>
/// <para>An RFC 3463 enhanced status code (RFC 2034 §3) is split off each line when its class matches the reply
/// code's first digit.</para>
/// </remarks>
public sealed class SmtpReplyReader
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private readonly SmtpReplyReaderLimits _limits;

    /// <summary>Creates a reader with the given limits.</summary>
    public SmtpReplyReader(SmtpReplyReaderLimits limits)
    {
        _limits = limits;
    }

    /// <summary>A reader with <see cref="SmtpReplyReaderLimits.Default"/>.</summary>
    public static SmtpReplyReader Default { get; } = new(SmtpReplyReaderLimits.Default);

    /// <summary>Tries to read one complete reply.</summary>
    /// <param name="reader">The received bytes; advanced past the reply only when one was read.</param>
    /// <param name="reply">The reply, when the method returns <c>true</c>.</param>
    /// <param name="error">Why the bytes are not a reply; <see cref="SmtpReplyReaderError.None"/> when more bytes are needed.</param>
    /// <returns><c>true</c> when a reply was read; <c>false</c> when more bytes are needed or on error.</returns>
    public bool TryRead(ref SequenceReader<byte> reader, out SmtpReceivedReply? reply, out SmtpReplyReaderError error)
    {
        reply = null;
        error = SmtpReplyReaderError.None;
        SequenceReader<byte> r = reader;
        int code = 0;
        string? enhanced = null;
        var lines = new List<string>();
        byte[]? rented = null;
        try
        {
            while (true)
            {
                // Cap before searching: look for LF only within MaxLineLength bytes.
                long window = Math.Min(r.Remaining, _limits.MaxLineLength);
                ReadOnlySequence<byte> unread = r.UnreadSequence.Slice(0, window);
                SequencePosition? lf = unread.PositionOf((byte)'\n');
                if (lf is null)
                {
                    if (r.Remaining >= _limits.MaxLineLength)
                    {
                        error = SmtpReplyReaderError.LineTooLong;
                    }
                    return false;
                }
                ReadOnlySequence<byte> raw = unread.Slice(0, lf.Value);
                int length = (int)raw.Length;
                r.Advance(length + 1);
                if (lines.Count == _limits.MaxLines)
                {
                    error = SmtpReplyReaderError.TooManyLines;
                    return false;
                }

                rented ??= ArrayPool<byte>.Shared.Rent(_limits.MaxLineLength);
                Span<byte> line = rented.AsSpan(0, length);
                raw.CopyTo(line);
                if (line.Length > 0 && line[^1] == (byte)'\r')
                {
                    line = line[..^1];
                }

                if (!TryReadReplyCode(line, out int lineCode))
                {
                    error = SmtpReplyReaderError.BadCode;
                    return false;
                }
                if (lines.Count == 0)
                {
                    code = lineCode;
                }
                else if (lineCode != code)
                {
                    error = SmtpReplyReaderError.CodeMismatch;
                    return false;
                }

                bool last;
                if (line.Length == 3)
                {
                    last = true;
                }
                else if (line[3] == (byte)' ')
                {
                    last = true;
                }
                else if (line[3] == (byte)'-')
                {
                    last = false;
                }
                else
                {
                    error = SmtpReplyReaderError.BadSeparator;
                    return false;
                }

                ReadOnlySpan<byte> text = line.Length > 4 ? line[4..] : ReadOnlySpan<byte>.Empty;
                foreach (byte b in text)
                {
                    if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
                    {
                        error = SmtpReplyReaderError.ControlCharacter;
                        return false;
                    }
                }

                int enhancedLength = MatchEnhancedCode(text, code / 100);
                if (enhancedLength > 0)
                {
                    if (lines.Count == 0)
                    {
                        enhanced = Encoding.ASCII.GetString(text[..enhancedLength]);
                    }
                    text = text[enhancedLength..];
                    if (text.Length > 0)
                    {
                        text = text[1..];
                    }
                }
                lines.Add(Utf8.GetString(text));

                if (last)
                {
                    reader = r;
                    reply = new SmtpReceivedReply(code, enhanced, lines);
                    return true;
                }
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>RFC 5321 §4.2 <c>Reply-code = %x32-35 %x30-35 %x30-39</c>.</summary>
    private static bool TryReadReplyCode(ReadOnlySpan<byte> line, out int code)
    {
        code = 0;
        if (line.Length < 3)
        {
            return false;
        }
        byte a = line[0], b = line[1], c = line[2];
        if (a is < (byte)'2' or > (byte)'5' || b is < (byte)'0' or > (byte)'5' || c is < (byte)'0' or > (byte)'9')
        {
            return false;
        }
        code = ((a - '0') * 100) + ((b - '0') * 10) + (c - '0');
        return true;
    }

    /// <summary>
    /// Length of an RFC 3463 <c>status-code = class "." subject "." detail</c> at the start of <paramref name="text"/>
    /// (class matching the reply's first digit, subject and detail 1-3 digits), followed by SP or the end; else 0.
    /// </summary>
    private static int MatchEnhancedCode(ReadOnlySpan<byte> text, int replyClass)
    {
        if (text.Length < 5 || text[0] != (byte)('0' + replyClass) || text[1] != (byte)'.')
        {
            return 0;
        }
        int i = 2;
        int digits = CountDigits(text[i..]);
        if (digits is 0 or > 3)
        {
            return 0;
        }
        i += digits;
        if (i >= text.Length || text[i] != (byte)'.')
        {
            return 0;
        }
        i++;
        digits = CountDigits(text[i..]);
        if (digits is 0 or > 3)
        {
            return 0;
        }
        i += digits;
        if (i < text.Length && text[i] != (byte)' ')
        {
            return 0;
        }
        return i;
    }

    private static int CountDigits(ReadOnlySpan<byte> s)
    {
        int n = 0;
        while (n < s.Length && s[n] is >= (byte)'0' and <= (byte)'9')
        {
            n++;
        }
        return n;
    }
}
