namespace ContentFilter.Protocols.Mime;

/// <summary>Splits a message header section (RFC 5322 §2.2) into raw <see cref="HeaderField"/>s.</summary>
/// <remarks>
/// Pure and lenient: line ends may be CRLF or bare LF (both occur in real mail), a line starting with SP or HTAB
/// continues the previous field, and a line without a colon is kept as a nameless field so that rewriting the
/// section loses no byte. Parsing stops at the first empty line; nothing after it is examined.
/// </remarks>
public static class HeaderSectionReader
{
    /// <summary>Parses <paramref name="section"/>, which starts at byte <paramref name="baseOffset"/> of the message.</summary>
    /// <param name="section">The header bytes; may include the empty line and more, which are ignored.</param>
    /// <param name="baseOffset">The offset of <paramref name="section"/> in the message.</param>
    /// <param name="consumed">Bytes of header fields read, not counting the empty line.</param>
    /// <param name="complete">True when the empty line (or the end of a section that ends in a line end) was seen.</param>
    public static List<HeaderField> Read(ReadOnlyMemory<byte> section, long baseOffset, out int consumed, out bool complete)
    {
        var fields = new List<HeaderField>();
        ReadOnlySpan<byte> span = section.Span;
        int pos = 0;
        complete = false;
        int fieldStart = -1;
        string fieldName = string.Empty;
        while (pos < span.Length)
        {
            int lf = span[pos..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                break; // an incomplete last line is not a field yet
            }
            int lineEnd = pos + lf + 1;
            ReadOnlySpan<byte> line = span[pos..lineEnd];
            bool empty = line.Length == 1 || (line.Length == 2 && line[0] == (byte)'\r');
            bool continuation = !empty && (line[0] == (byte)' ' || line[0] == (byte)'\t');
            if (!continuation && fieldStart >= 0)
            {
                fields.Add(new HeaderField(fieldName, section[fieldStart..pos], baseOffset + fieldStart));
                fieldStart = -1;
            }
            if (empty)
            {
                complete = true;
                consumed = pos;
                return fields;
            }
            if (!continuation)
            {
                fieldStart = pos;
                int colon = line.IndexOf((byte)':');
                fieldName = colon > 0 && IsFieldName(line[..colon]) ? HeaderField.Decode(line[..colon]) : string.Empty;
            }
            else if (fieldStart < 0)
            {
                fieldStart = pos; // continuation at the very top: keep the bytes as a nameless field
                fieldName = string.Empty;
            }
            pos = lineEnd;
        }
        if (fieldStart >= 0)
        {
            fields.Add(new HeaderField(fieldName, section[fieldStart..pos], baseOffset + fieldStart));
        }
        consumed = pos;
        return fields;
    }

    /// <summary>RFC 5322 §3.6.8 ftext: printable US-ASCII except colon.</summary>
    private static bool IsFieldName(ReadOnlySpan<byte> name)
    {
        foreach (byte b in name)
        {
            if (b < 33 || b > 126)
            {
                return false;
            }
        }
        return true;
    }
}
