using System.Buffers;
using System.Globalization;
using System.Text;

namespace ContentFilter.Protocols.Spamd;

/// <summary>Writes the head of a SPAMC/1.5 request (spamd/PROTOCOL).</summary>
/// <remarks>
/// spamd matches header names case-sensitively: it must be <c>Content-length</c> exactly, or spamd ignores it and
/// reads to EOF (PROTOCOLS.md §3). Under 1.5 every request, PING included, ends its head with an empty line.
/// </remarks>
public static class SpamdRequestWriter
{
    /// <summary>The protocol version we speak.</summary>
    public const string ProtocolVersion = "SPAMC/1.5";

    /// <summary>The wire name of <paramref name="command"/>.</summary>
    public static string CommandName(SpamdCommand command) => command switch
    {
        SpamdCommand.Symbols => "SYMBOLS",
        SpamdCommand.Report => "REPORT",
        SpamdCommand.Check => "CHECK",
        SpamdCommand.Ping => "PING",
        _ => throw new ArgumentOutOfRangeException(nameof(command)),
    };

    /// <summary>Writes request line, headers and the empty line.</summary>
    /// <exception cref="ArgumentException">The user name holds a control character or is too long (it would
    /// inject header lines) or the length is negative.</exception>
    public static void Write(in SpamdRequest request, IBufferWriter<byte> output)
    {
        var sb = new StringBuilder(96);
        sb.Append(CommandName(request.Command)).Append(' ').Append(ProtocolVersion).Append("\r\n");
        if (request.ContentLength is long length)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            sb.Append("Content-length: ").Append(length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }
        if (!string.IsNullOrEmpty(request.User))
        {
            if (request.User.Length > 255 || request.User.Any(c => c < 0x21 || c > 0x7E))
            {
                throw new ArgumentException("The spamd user name must be 1-255 printable ASCII characters.", nameof(request));
            }
            sb.Append("User: ").Append(request.User).Append("\r\n");
        }
        sb.Append("\r\n");
        int count = Encoding.ASCII.GetByteCount(sb.ToString());
        Span<byte> span = output.GetSpan(count);
        Encoding.ASCII.GetBytes(sb.ToString(), span);
        output.Advance(count);
    }
}
