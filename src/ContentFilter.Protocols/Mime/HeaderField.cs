using System.Text;

namespace ContentFilter.Protocols.Mime;

/// <summary>One header field exactly as it stood in the message: its raw bytes (folded lines and line ends included).</summary>
/// <remarks>
/// Raw bytes are kept so that the proxy can write an edited header block back without re-serialising anything it
/// did not change (RFC 6376 §3.4: a changed byte in a signed header breaks the DKIM signature). A line that is not a
/// header field (no colon) is kept as a field with an empty <see cref="Name"/> so its bytes survive too.
/// </remarks>
public sealed class HeaderField
{
    private string? _value;

    /// <summary>Creates a field from its raw bytes (name, colon, value, folding and line end).</summary>
    public HeaderField(string name, ReadOnlyMemory<byte> raw, long offset)
    {
        Name = name;
        Raw = raw;
        Offset = offset;
    }

    /// <summary>The field name as written (case preserved); empty for a line that is not a field.</summary>
    public string Name { get; }

    /// <summary>The raw bytes of the whole field, including folded continuation lines and the final line end.</summary>
    public ReadOnlyMemory<byte> Raw { get; }

    /// <summary>Byte offset of the field in the message.</summary>
    public long Offset { get; }

    /// <summary>The value unfolded (line ends removed, RFC 5322 §2.2.3), leading white space trimmed, decoded as UTF-8.</summary>
    public string Value => _value ??= Unfold();

    /// <summary>The value with folding kept as it stood after the colon (line ends normalised to CRLF, final one removed).</summary>
    public string RawValue
    {
        get
        {
            ReadOnlySpan<byte> span = Raw.Span;
            int colon = span.IndexOf((byte)':');
            ReadOnlySpan<byte> v = colon < 0 ? span : span[(colon + 1)..];
            return Decode(TrimLineEnd(v));
        }
    }

    /// <summary>True when the name matches, ASCII case-insensitively (RFC 5322 field names are case-insensitive).</summary>
    public bool Is(string name) => string.Equals(Name, name, StringComparison.OrdinalIgnoreCase);

    /// <inheritdoc />
    public override string ToString() => Name.Length == 0 ? Decode(TrimLineEnd(Raw.Span)) : $"{Name}: {Value}";

    private string Unfold()
    {
        ReadOnlySpan<byte> span = Raw.Span;
        int colon = span.IndexOf((byte)':');
        if (colon < 0)
        {
            return string.Empty;
        }
        span = span[(colon + 1)..];
        var bytes = new byte[span.Length];
        int n = 0;
        foreach (byte b in span)
        {
            if (b != (byte)'\r' && b != (byte)'\n')
            {
                bytes[n++] = b;
            }
        }
        return Decode(bytes.AsSpan(0, n)).Trim(' ', '\t');
    }

    private static ReadOnlySpan<byte> TrimLineEnd(ReadOnlySpan<byte> span)
    {
        if (span.EndsWith("\r\n"u8))
        {
            return span[..^2];
        }
        return span.EndsWith("\n"u8) ? span[..^1] : span;
    }

    /// <summary>Decodes header bytes: UTF-8 when valid (RFC 6532), otherwise Latin-1 so that no byte is lost.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return Encoding.Latin1.GetString(bytes);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);
}
