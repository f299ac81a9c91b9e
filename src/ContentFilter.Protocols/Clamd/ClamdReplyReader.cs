using System.Buffers;
using System.Text;

namespace ContentFilter.Protocols.Clamd;

/// <summary>Reads NUL-terminated clamd replies (the <c>z</c> command form) and classifies them.</summary>
/// <remarks>
/// Pure: bytes in, a reply or a reason out. <c>false</c> with <see cref="ClamdError.None"/> means "need more".
/// The length cap is checked before the terminator is searched beyond it, so a peer that never sends NUL costs at
/// most <see cref="ClamdLimits.MaxReplyLength"/> bytes. Anything that is not one of the known reply shapes is an
/// error: an unparsed clamd reply is never "clean" (PROTOCOLS.md §4).
/// </remarks>
public static class ClamdReplyReader
{
    private static ReadOnlySpan<byte> StreamPrefix => "stream: "u8;

    private static ReadOnlySpan<byte> FoundSuffix => " FOUND"u8;

    private static ReadOnlySpan<byte> ErrorSuffix => " ERROR"u8;

    private static ReadOnlySpan<byte> SizeLimit => "INSTREAM size limit exceeded"u8;

    /// <summary>Reads one reply line.</summary>
    /// <param name="reader">Input; advanced past the line and its terminator on success.</param>
    /// <param name="limits">Caps.</param>
    /// <param name="reply">The reply.</param>
    /// <param name="error">Why it failed, or <see cref="ClamdError.None"/> when more bytes are needed.</param>
    public static bool TryRead(ref SequenceReader<byte> reader, ClamdLimits limits, out ClamdReply reply, out ClamdError error)
    {
        reply = null!;
        error = ClamdError.None;
        SequenceReader<byte> probe = reader;
        if (!probe.TryReadTo(out ReadOnlySequence<byte> line, (byte)0, advancePastDelimiter: true))
        {
            if (reader.Remaining > limits.MaxReplyLength)
            {
                error = ClamdError.ReplyTooLong;
            }
            return false;
        }
        if (line.Length > limits.MaxReplyLength)
        {
            error = ClamdError.ReplyTooLong;
            return false;
        }
        if (!TryParseLine(line.IsSingleSegment ? line.FirstSpan : line.ToArray(), out reply))
        {
            error = ClamdError.UnrecognizedReply;
            return false;
        }
        reader = probe;
        return true;
    }

    /// <summary>Called when the peer closed the connection: leftover bytes mean a reply was cut off.</summary>
    public static ClamdError AtEndOfStream(in SequenceReader<byte> reader) =>
        reader.Remaining == 0 ? ClamdError.None : ClamdError.TruncatedReply;

    /// <summary>Classifies one reply line (terminator removed).</summary>
    /// <remarks>
    /// A trailing newline is tolerated (the non-<c>z</c> form). Shapes: <c>stream: OK</c>,
    /// <c>stream: NAME FOUND</c>, <c>INSTREAM size limit exceeded. ERROR</c>, <c>TEXT ERROR</c>, <c>PONG</c>,
    /// <c>ClamAV VERSION</c>. A FOUND with an empty name is not accepted.
    /// </remarks>
    public static bool TryParseLine(ReadOnlySpan<byte> line, out ClamdReply reply)
    {
        reply = null!;
        if (line.EndsWith("\n"u8))
        {
            line = line[..^1];
        }
        if (line.Length == 0 || line.IndexOfAnyInRange((byte)0, (byte)0x1F) >= 0)
        {
            return false;
        }
        if (line.EndsWith(ErrorSuffix))
        {
            ReadOnlySpan<byte> text = line[..^ErrorSuffix.Length];
            if (text.StartsWith(SizeLimit))
            {
                reply = new ClamdReply(ClamdReplyKind.SizeLimitExceeded, Decode(text));
                return true;
            }
            if (text.StartsWith(StreamPrefix))
            {
                text = text[StreamPrefix.Length..];
            }
            reply = new ClamdReply(ClamdReplyKind.Error, Decode(text));
            return true;
        }
        if (line.SequenceEqual("stream: OK"u8))
        {
            reply = new ClamdReply(ClamdReplyKind.Clean, string.Empty);
            return true;
        }
        if (line.Length > StreamPrefix.Length + FoundSuffix.Length && line.StartsWith(StreamPrefix) && line.EndsWith(FoundSuffix))
        {
            ReadOnlySpan<byte> name = line[StreamPrefix.Length..^FoundSuffix.Length];
            if (name.Trim((byte)' ').Length == 0)
            {
                return false;
            }
            reply = new ClamdReply(ClamdReplyKind.Found, Decode(name));
            return true;
        }
        if (line.SequenceEqual("PONG"u8))
        {
            reply = new ClamdReply(ClamdReplyKind.Pong, string.Empty);
            return true;
        }
        if (line.StartsWith("ClamAV "u8))
        {
            reply = new ClamdReply(ClamdReplyKind.Version, Decode(line));
            return true;
        }
        return false;
    }

    private static string Decode(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
