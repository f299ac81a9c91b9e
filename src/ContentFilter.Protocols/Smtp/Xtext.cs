using System.Text;

namespace ContentFilter.Protocols.Smtp;

/// <summary>xtext (RFC 3461 §4): printable ASCII except <c>+</c> and <c>=</c> as is, everything else as <c>+XX</c>.</summary>
/// <remarks>Used by XFORWARD values and the DSN <c>ENVID</c>/<c>ORCPT</c> parameters.</remarks>
public static class Xtext
{
    /// <summary>Decodes <paramref name="text"/>; false when a <c>+</c> is not followed by two hex digits or a raw byte is outside 33-126.</summary>
    /// <remarks>Decoded bytes are read as UTF-8 when valid, else Latin-1, so no byte is lost.</remarks>
    public static bool TryDecode(ReadOnlySpan<char> text, out string value)
    {
        value = string.Empty;
        var bytes = new byte[text.Length];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '+')
            {
                if (i + 2 >= text.Length || !IsHex(text[i + 1]) || !IsHex(text[i + 2]))
                {
                    return false;
                }
                bytes[n++] = (byte)((HexValue(text[i + 1]) << 4) | HexValue(text[i + 2]));
                i += 2;
            }
            else if (c is < '!' or > '~' or '=')
            {
                return false;
            }
            else
            {
                bytes[n++] = (byte)c;
            }
        }
        try
        {
            value = new UTF8Encoding(false, true).GetString(bytes, 0, n);
        }
        catch (DecoderFallbackException)
        {
            value = Encoding.Latin1.GetString(bytes, 0, n);
        }
        return true;
    }

    /// <summary>Encodes <paramref name="value"/> (as UTF-8) into xtext.</summary>
    public static string Encode(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (byte b in Encoding.UTF8.GetBytes(value))
        {
            if (b is >= 33 and <= 126 && b != (byte)'+' && b != (byte)'=')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('+').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return sb.ToString();
    }

    private static bool IsHex(char c) => c is (>= '0' and <= '9') or (>= 'A' and <= 'F') or (>= 'a' and <= 'f');

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
