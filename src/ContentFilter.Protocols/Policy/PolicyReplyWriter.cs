using System.Buffers;
using System.Text;

namespace ContentFilter.Protocols.Policy;

/// <summary>Writes <c>action=...</c> followed by the empty line that ends a reply (SMTPD_POLICY_README).</summary>
public static class PolicyReplyWriter
{
    private static ReadOnlySpan<byte> Prefix => "action="u8;

    /// <summary>Writes the reply.</summary>
    /// <remarks>
    /// A CR, LF or other control byte inside the action would end the reply early and let the rest be read as the
    /// next reply (response splitting, e.g. through a configured text or a recipient domain in <c>%r</c>); each is
    /// written as a space.
    /// </remarks>
    public static void Write(in PolicyReply reply, IBufferWriter<byte> output)
    {
        string action = reply.Action;
        int max = Prefix.Length + Encoding.UTF8.GetMaxByteCount(action.Length) + 2;
        Span<byte> span = output.GetSpan(max);
        Prefix.CopyTo(span);
        int n = Prefix.Length + Encoding.UTF8.GetBytes(action, span[Prefix.Length..]);
        for (int i = Prefix.Length; i < n; i++)
        {
            if (span[i] < 0x20 || span[i] == 0x7F)
            {
                span[i] = (byte)' ';
            }
        }
        span[n++] = (byte)'\n';
        span[n++] = (byte)'\n';
        output.Advance(n);
    }
}
