using System.Text;

namespace ContentFilter.Checks.Dkim;

/// <summary>Header canonicalisation (RFC 6376 §3.4.1 simple, §3.4.2 relaxed) over raw field bytes.</summary>
/// <remarks>
/// Works on bytes, never on decoded text, so an 8-bit header (RFC 6532) hashes exactly as it was sent. A bare LF
/// line end counts as CRLF, as it would after any SMTP hop.
/// </remarks>
public static class DkimHeaderCanonicalizer
{
    /// <summary>Appends the canonical form of one whole field (name, colon, value, line end) to <paramref name="output"/>.</summary>
    /// <param name="raw">The field's bytes, with or without its final line end.</param>
    /// <param name="canonicalization">Simple or relaxed.</param>
    /// <param name="output">Where to write.</param>
    /// <param name="withLineEnd">False for the signature field itself, which is hashed without its CRLF (§3.7).</param>
    public static void Canonicalize(ReadOnlySpan<byte> raw, DkimCanonicalization canonicalization, List<byte> output, bool withLineEnd = true)
    {
        raw = TrimFinalLineEnd(raw);
        if (canonicalization == DkimCanonicalization.Simple)
        {
            for (int i = 0; i < raw.Length; i++)
            {
                byte b = raw[i];
                if (b == (byte)'\n' && (i == 0 || raw[i - 1] != (byte)'\r'))
                {
                    output.Add((byte)'\r');
                }
                output.Add(b);
            }
        }
        else
        {
            int colon = raw.IndexOf((byte)':');
            ReadOnlySpan<byte> name = colon < 0 ? raw : raw[..colon];
            int nameEnd = name.Length;
            while (nameEnd > 0 && IsWsp(name[nameEnd - 1]))
            {
                nameEnd--;
            }
            foreach (byte b in name[..nameEnd])
            {
                output.Add(b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b + 32) : b);
            }
            output.Add((byte)':');
            if (colon >= 0)
            {
                AppendRelaxedValue(raw[(colon + 1)..], output);
            }
        }
        if (withLineEnd)
        {
            output.Add((byte)'\r');
            output.Add((byte)'\n');
        }
    }

    /// <summary>The relaxed form of a field given by name and value text (used when signing our own new fields).</summary>
    public static byte[] CanonicalizeRelaxed(string name, string value, bool withLineEnd)
    {
        var output = new List<byte>(name.Length + value.Length + 4);
        Canonicalize(Encoding.UTF8.GetBytes(name + ":" + value), DkimCanonicalization.Relaxed, output, withLineEnd);
        return output.ToArray();
    }

    private static void AppendRelaxedValue(ReadOnlySpan<byte> value, List<byte> output)
    {
        // Unfold (delete CR and LF), reduce WSP runs to one SP, drop WSP at both ends of the value.
        bool pendingSpace = false;
        bool started = false;
        foreach (byte b in value)
        {
            if (b is (byte)'\r' or (byte)'\n')
            {
                continue;
            }
            if (IsWsp(b))
            {
                pendingSpace = started;
                continue;
            }
            if (pendingSpace)
            {
                output.Add((byte)' ');
                pendingSpace = false;
            }
            output.Add(b);
            started = true;
        }
    }

    private static ReadOnlySpan<byte> TrimFinalLineEnd(ReadOnlySpan<byte> raw)
    {
        if (raw.EndsWith("\r\n"u8))
        {
            return raw[..^2];
        }
        return raw.EndsWith("\n"u8) ? raw[..^1] : raw;
    }

    private static bool IsWsp(byte b) => b is (byte)' ' or (byte)'\t';
}
