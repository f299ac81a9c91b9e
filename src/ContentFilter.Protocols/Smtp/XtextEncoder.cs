using System.Text;

namespace ContentFilter.Protocols.Smtp;

/// <summary>RFC 3461 §4 xtext, the encoding of XFORWARD values, ORCPT and ENVID.</summary>
/// <remarks>
/// <c>xtext = *( xchar / hexchar )</c>: bytes 33-126 except <c>+</c> and <c>=</c> stand for themselves, everything
/// else is <c>+XX</c> (upper-case hex). Strings are encoded as UTF-8 first, so a value can never smuggle a space,
/// CR or LF into a command line.
/// </remarks>
public static class XtextEncoder
{
    private const string Hex = "0123456789ABCDEF";

    /// <summary>Encodes <paramref name="value"/> (as UTF-8) into xtext.</summary>
    public static string Encode(string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        var sb = new StringBuilder(bytes.Length);
        foreach (byte b in bytes)
        {
            if (b is >= 33 and <= 126 && b != (byte)'+' && b != (byte)'=')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('+').Append(Hex[b >> 4]).Append(Hex[b & 0xF]);
            }
        }
        return sb.ToString();
    }

    /// <summary>Decodes xtext; a malformed <c>+</c> sequence is kept literally (lenient: the value is only displayed).</summary>
    public static string Decode(string xtext)
    {
        var bytes = new List<byte>(xtext.Length);
        for (int i = 0; i < xtext.Length; i++)
        {
            char c = xtext[i];
            if (c == '+' && i + 2 < xtext.Length && IsHex(xtext[i + 1]) && IsHex(xtext[i + 2]))
            {
                bytes.Add(Convert.ToByte(xtext.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);
}
