using System.Buffers;

namespace ContentFilter.Protocols.Smtp;

/// <summary>Streams the DATA section (RFC 5321 §4.1.1.4): removes dot-stuffing and finds the end, holding no line in memory.</summary>
/// <remarks>
/// <para><b>Only <c>&lt;CRLF&gt;.&lt;CRLF&gt;</c> ends DATA</b> (the CRLF of the DATA command counts as the first one).
/// <c>&lt;LF&gt;.&lt;LF&gt;</c>, <c>&lt;CR&gt;.&lt;CR&gt;</c>, <c>&lt;LF&gt;.&lt;CRLF&gt;</c>, <c>&lt;CRLF&gt;.&lt;LF&gt;</c>,
/// <c>&lt;CR&gt;.&lt;LF&gt;</c> and friends are content. This is the SMTP-smuggling defence on the way in: one DATA is
/// exactly one message.</para>
/// <para><b>What the decoded output (the spool) may contain</b>, so that no next hop can read an end of data in it:
/// <list type="bullet">
/// <item>Every LF is preceded by CR. A bare LF is stored as CRLF. Postfix does the same to every message it queues
/// (it stores lines, and its smtp client writes each with CRLF), so mail that came through Postfix, which is all
/// legitimate mail here, arrives without bare LF and keeps every byte. For dot-unstuffing a bare LF ends a line, as
/// in Postfix's smtpd: <c>LF ".." x</c> stores <c>CRLF "." x</c>.</item>
/// <item>A bare CR (not followed by LF) is kept as it is. Postfix passes bare CR through unchanged and never treats it
/// as a line end; turning it into CRLF could create an empty line that ends the header section early and move
/// fields such as From: into the body. Bare CR therefore never starts a line for anyone downstream.</item>
/// <item>A line consisting of a single dot that is not <c>CRLF "." CRLF</c> (<c>LF "." LF</c>, <c>CRLF "." LF</c>,
/// <c>LF "." CRLF</c>) is stored as the content line <c>"." CRLF</c>; it is not the end.</item>
/// </list>
/// Consequently a writer that dot-stuffs every line beginning with <c>.</c> after CRLF (and at the very start)
/// produces a stream in which the only line equal to <c>.</c> (after Postfix strips trailing CRs) is its own
/// terminator. No <c>.</c> ever follows a bare LF because there is none.</para>
/// <para>Decoded bytes are written to an <see cref="IBufferWriter{T}"/>; one call writes at most the input length plus
/// a few bytes, so the caller's buffer is bounded by its read size.</para>
/// </remarks>
public sealed class SmtpDataDecoder
{
    private static readonly byte[] CrLf = "\r\n"u8.ToArray();
    private static readonly byte[] Cr = "\r"u8.ToArray();
    private static readonly byte[] DotCrLf = ".\r\n"u8.ToArray();

    private State _state = State.LineStart;

    // True when the current line began after a bare LF: such a line is unstuffed like any other but can never end DATA.
    private bool _afterBareLf;

    private enum State
    {
        /// <summary>At the start of a line (after CRLF, a bare LF, or the DATA command).</summary>
        LineStart,

        /// <summary>Saw "." at the start of a line.</summary>
        Dot,

        /// <summary>Saw "." CR at the start of a line.</summary>
        DotCr,

        /// <summary>Inside a line.</summary>
        InLine,

        /// <summary>Saw CR inside a line (not yet known whether LF follows).</summary>
        Cr,
    }

    /// <summary>Decoded bytes written since the last <see cref="Reset"/> (the message size).</summary>
    public long DecodedLength { get; private set; }

    /// <summary>Bare LFs seen and stored as CRLF since the last <see cref="Reset"/> (for the log).</summary>
    public long BareLineFeeds { get; private set; }

    /// <summary>Bare CRs seen and kept since the last <see cref="Reset"/> (for the log).</summary>
    public long BareCarriageReturns { get; private set; }

    /// <summary>Prepares for the next message.</summary>
    public void Reset()
    {
        _state = State.LineStart;
        _afterBareLf = false;
        DecodedLength = 0;
        BareLineFeeds = 0;
        BareCarriageReturns = 0;
    }

    /// <summary>Decodes what <paramref name="input"/> holds into <paramref name="output"/>.</summary>
    /// <returns>True when the end-of-data line was consumed (the reader then stands on the next command); false when more input is needed (all input was consumed).</returns>
    public bool TryRead(ref SequenceReader<byte> input, IBufferWriter<byte> output)
    {
        while (!input.End)
        {
            ReadOnlySpan<byte> span = input.UnreadSpan;
            int used = Decode(span, output, out bool ended);
            input.Advance(used);
            if (ended)
            {
                _state = State.LineStart;
                return true;
            }
        }
        return false;
    }

    private int Decode(ReadOnlySpan<byte> span, IBufferWriter<byte> output, out bool ended)
    {
        ended = false;
        int i = 0;
        while (i < span.Length)
        {
            byte b = span[i];
            switch (_state)
            {
                case State.InLine:
                {
                    int stop = span[i..].IndexOfAny((byte)'\r', (byte)'\n');
                    if (stop < 0)
                    {
                        Emit(output, span[i..]);
                        return span.Length;
                    }
                    Emit(output, span.Slice(i, stop));
                    i += stop;
                    if (span[i] == (byte)'\r')
                    {
                        _state = State.Cr;
                    }
                    else
                    {
                        BareLineFeeds++;
                        Emit(output, CrLf);
                        _state = State.LineStart;
                        _afterBareLf = true;
                    }
                    i++;
                    break;
                }
                case State.LineStart:
                    if (b == (byte)'.')
                    {
                        _state = State.Dot;
                    }
                    else if (b == (byte)'\r')
                    {
                        _state = State.Cr;
                    }
                    else if (b == (byte)'\n')
                    {
                        BareLineFeeds++;
                        Emit(output, CrLf);
                        _afterBareLf = true;
                    }
                    else
                    {
                        _state = State.InLine;
                        continue; // the fast path copies it
                    }
                    i++;
                    break;
                case State.Dot:
                    if (b == (byte)'\r')
                    {
                        _state = State.DotCr;
                        i++;
                    }
                    else if (b == (byte)'\n')
                    {
                        // "." ended by a bare LF: content, never the end. Stored as a "." line.
                        BareLineFeeds++;
                        Emit(output, DotCrLf);
                        _state = State.LineStart;
                        _afterBareLf = true;
                        i++;
                    }
                    else
                    {
                        // RFC 5321 §4.5.2: a leading dot with more on the line is removed.
                        _state = State.InLine;
                    }
                    break;
                case State.DotCr:
                    if (b == (byte)'\n')
                    {
                        if (!_afterBareLf)
                        {
                            ended = true;
                            return i + 1;
                        }
                        // LF "." CRLF: the previous line ended in a bare LF, so this is not <CRLF>.<CRLF>. A "." line.
                        Emit(output, DotCrLf);
                        _state = State.LineStart;
                        _afterBareLf = false;
                        i++;
                        break;
                    }
                    // "." CR x: the dot was stuffing; the CR is a bare CR, kept.
                    BareCarriageReturns++;
                    Emit(output, Cr);
                    _state = b == (byte)'\r' ? State.Cr : State.InLine;
                    if (b == (byte)'\r')
                    {
                        i++;
                    }
                    break;
                case State.Cr:
                    if (b == (byte)'\n')
                    {
                        Emit(output, CrLf);
                        _state = State.LineStart;
                        _afterBareLf = false;
                        i++;
                    }
                    else
                    {
                        BareCarriageReturns++;
                        Emit(output, Cr);
                        if (b == (byte)'\r')
                        {
                            i++; // stays in Cr for the new CR
                        }
                        else
                        {
                            _state = State.InLine;
                        }
                    }
                    break;
            }
        }
        return span.Length;
    }

    private void Emit(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0)
        {
            return;
        }
        output.Write(bytes);
        DecodedLength += bytes.Length;
    }
}
