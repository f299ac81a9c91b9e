using System.Text;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Dkim;

/// <summary>Builds the data a DKIM or ARC signature signs: the selected header fields, canonicalised, then the signature field with an empty <c>b=</c> (RFC 6376 §3.7, §5.4.2).</summary>
public static class DkimHeaderHashInput
{
    /// <summary>Selects fields bottom-up as §5.4.2 requires (each name in <paramref name="signedHeaders"/> takes the next unused instance from the bottom; a missing one contributes nothing) and canonicalises them.</summary>
    public static void AppendSignedFields(IReadOnlyList<HeaderField> fields, IReadOnlyList<string> signedHeaders, DkimCanonicalization canonicalization, List<byte> output)
    {
        var used = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (string name in signedHeaders)
        {
            int skip = used.GetValueOrDefault(name);
            used[name] = skip + 1;
            for (int i = fields.Count - 1; i >= 0; i--)
            {
                if (!fields[i].Is(name))
                {
                    continue;
                }
                if (skip-- == 0)
                {
                    DkimHeaderCanonicalizer.Canonicalize(fields[i].Raw.Span, canonicalization, output);
                    break;
                }
            }
        }
    }

    /// <summary>Appends the signature field itself with the value of its <c>b=</c> tag removed and no final CRLF.</summary>
    public static void AppendSignatureField(ReadOnlySpan<byte> raw, DkimCanonicalization canonicalization, List<byte> output)
    {
        byte[] stripped = RemoveSignatureValue(raw);
        DkimHeaderCanonicalizer.Canonicalize(stripped, canonicalization, output, withLineEnd: false);
    }

    /// <summary>The field bytes with everything between <c>b=</c> and the next <c>;</c> (or the end) removed.</summary>
    public static byte[] RemoveSignatureValue(ReadOnlySpan<byte> raw)
    {
        raw = raw.EndsWith("\r\n"u8) ? raw[..^2] : raw.EndsWith("\n"u8) ? raw[..^1] : raw;
        int colon = raw.IndexOf((byte)':');
        int pos = colon + 1;
        while (pos <= raw.Length)
        {
            int semi = raw[pos..].IndexOf((byte)';');
            int end = semi < 0 ? raw.Length : pos + semi;
            ReadOnlySpan<byte> spec = raw[pos..end];
            int eq = spec.IndexOf((byte)'=');
            if (eq >= 0 && Trim(spec[..eq]).SequenceEqual("b"u8))
            {
                int valueStart = pos + eq + 1;
                var result = new byte[raw.Length - (end - valueStart)];
                raw[..valueStart].CopyTo(result);
                raw[end..].CopyTo(result.AsSpan(valueStart));
                return result;
            }
            if (semi < 0)
            {
                break;
            }
            pos = end + 1;
        }
        return raw.ToArray();
    }

    /// <summary>Formats a new field (<c>Name: value</c>) as raw bytes the way the doors write it.</summary>
    public static byte[] NewField(string name, string value) => Encoding.UTF8.GetBytes(name + ": " + value);

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        int start = 0, end = s.Length;
        while (start < end && s[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }
        while (end > start && s[end - 1] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            end--;
        }
        return s[start..end];
    }
}
