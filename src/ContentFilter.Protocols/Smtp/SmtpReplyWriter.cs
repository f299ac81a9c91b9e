using System.Buffers;
using System.Globalization;
using System.Text;

namespace ContentFilter.Protocols.Smtp;

/// <summary>Writes SMTP replies (RFC 5321 §4.2), single or multi-line, with RFC 2034 enhanced status codes.</summary>
/// <remarks>
/// Every line but the last is <c>ddd-</c>, the last <c>ddd </c>; the enhanced code, when given, starts every line
/// (RFC 2034 §3). Texts are sanitised: CR, LF and other control characters become spaces, so a text taken from the
/// next hop or a verdict can never inject a reply line of its own. Each line is cut to fit 512 octets.
/// </remarks>
public static class SmtpReplyWriter
{
    /// <summary>RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including CRLF.</summary>
    public const int MaxReplyLine = 512;

    /// <summary>Writes a one-line reply.</summary>
    public static void Write(int code, string? enhancedCode, string text, IBufferWriter<byte> output) =>
        Write(code, enhancedCode, new[] { text }, output);

    /// <summary>Writes a reply of one or more lines.</summary>
    public static void Write(int code, string? enhancedCode, IReadOnlyList<string> lines, IBufferWriter<byte> output)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(code, 200);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 599);
        int count = Math.Max(1, lines.Count);
        for (int i = 0; i < count; i++)
        {
            var sb = new StringBuilder(80);
            sb.Append(code.ToString(CultureInfo.InvariantCulture)).Append(i == count - 1 ? ' ' : '-');
            if (!string.IsNullOrEmpty(enhancedCode))
            {
                sb.Append(enhancedCode).Append(' ');
            }
            string text = lines.Count == 0 ? string.Empty : lines[i];
            foreach (char c in text)
            {
                sb.Append(c < ' ' || c == '\u007f' ? ' ' : c);
            }
            byte[] bytes = Encoding.UTF8.GetBytes(sb.ToString());
            int length = Math.Min(bytes.Length, MaxReplyLine - 2);
            while (length < bytes.Length && length > 0 && (bytes[length] & 0xC0) == 0x80)
            {
                length--; // do not cut a UTF-8 sequence in half
            }
            output.Write(bytes.AsSpan(0, length));
            output.Write("\r\n"u8);
        }
    }

    /// <summary>Writes the reply an <see cref="SmtpError"/> earns.</summary>
    public static void Write(SmtpError error, IBufferWriter<byte> output) =>
        Write(SmtpErrorReply.Code(error), SmtpErrorReply.EnhancedCode(error), SmtpErrorReply.Text(error), output);
}
