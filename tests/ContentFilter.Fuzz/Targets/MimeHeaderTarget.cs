using ContentFilter.Protocols.Mime;

namespace ContentFilter.Fuzz.Targets;

/// <summary>The header-section codecs in Protocols: <see cref="HeaderSectionReader"/>, <see cref="HeaderField"/>, <see cref="HeaderEndDetector"/>.</summary>
/// <remarks>
/// Invariants: the fields tile the section (their raw bytes, in order, are exactly the bytes read, so rewriting the
/// section loses nothing); every field ends in a line end and a named field starts with its name and a colon;
/// the end detector finds the same body offset whatever the chunk sizes, and the same one the reader stops at
/// (two codecs disagreeing on where the body starts would let a field be a header for one check and body for another).
/// </remarks>
internal static class MimeHeaderTarget
{
    public static void Run(byte[] data)
    {
        const long BaseOffset = 1000;
        List<HeaderField> fields = HeaderSectionReader.Read(data, BaseOffset, out int consumed, out bool complete);
        FuzzInvariantException.Check(consumed >= 0 && consumed <= data.Length, $"consumed {consumed} of {data.Length}");
        long offset = BaseOffset;
        foreach (HeaderField f in fields)
        {
            FuzzInvariantException.Check(f.Offset == offset, "fields do not tile the section");
            FuzzInvariantException.Check(f.Raw.Span.SequenceEqual(data.AsSpan((int)(offset - BaseOffset), f.Raw.Length)), "a field's raw bytes are not the message's");
            FuzzInvariantException.Check(f.Raw.Length > 0 && f.Raw.Span[^1] == (byte)'\n', "a field does not end in a line end");
            if (f.Name.Length > 0)
            {
                FuzzInvariantException.Check(f.Raw.Length > f.Name.Length && f.Raw.Span[f.Name.Length] == (byte)':', "a named field does not start with its name and a colon");
                FuzzInvariantException.Check(f.Is(f.Name) && !f.Name.Any(c => c <= ' ' || c > '~' || c == ':'), "a field name is not ftext");
            }
            FuzzInvariantException.Check(!f.Value.Contains('\n') && !f.Value.Contains('\r'), "an unfolded value holds a line end");
            _ = f.RawValue;
            _ = f.ToString();
            offset += f.Raw.Length;
        }
        FuzzInvariantException.Check(offset - BaseOffset == consumed, "the fields do not cover the bytes consumed");
        ReadOnlySpan<byte> rest = data.AsSpan(consumed);
        if (complete)
        {
            FuzzInvariantException.Check(rest.StartsWith("\n"u8) || rest.StartsWith("\r\n"u8), "complete, but no empty line follows the fields");
        }
        else
        {
            FuzzInvariantException.Check(rest.IndexOf((byte)'\n') < 0, "incomplete, yet a whole line was left unread");
        }

        // The end detector, whole and in pieces, agrees with itself and with the reader.
        long whole = Detect([data]);
        foreach (int[] plan in Chunking.Plans(data))
        {
            FuzzInvariantException.Check(Detect(Chunking.Split(data, plan)) == whole, $"the end detector depends on piece sizes ({plan.Length} pieces)");
        }
        long expected = complete ? consumed + (rest[0] == (byte)'\n' ? 1 : 2) : -1;
        FuzzInvariantException.Check(whole == expected, $"the end detector puts the body at {whole}, the reader at {expected}");
    }

    private static long Detect(byte[][] parts)
    {
        HeaderEndDetector detector = HeaderEndDetector.Create();
        foreach (byte[] part in parts)
        {
            detector.Feed(part);
        }
        FuzzInvariantException.Check(detector.Found == (detector.BodyOffset >= 0), "Found disagrees with BodyOffset");
        return detector.BodyOffset;
    }
}
