using System.Security.Cryptography;
using System.Text;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Dkim;

/// <summary>Creates DKIM-Signature values (RFC 6376 §5) over given header fields and a body hash.</summary>
/// <remarks>
/// The value is built with an empty <c>b=</c>, hashed exactly as a verifier will see it (the field as the doors
/// write it, <c>Name: value</c>, §3.7), signed, and the signature appended folded. Tag folding uses CRLF TAB so
/// lines stay under 78 characters (RFC 5322 §2.1.1).
/// </remarks>
public static class DkimSignatureBuilder
{
    /// <summary>The <c>h=</c> list: each configured name once per instance present, plus one more for over-signed names (RFC 6376 §8.15).</summary>
    /// <remarks>The fields are counted by name once, rather than scanned once per configured name.</remarks>
    public static List<string> SelectHeaders(IReadOnlyList<HeaderField> fields, IEnumerable<string> headers, IEnumerable<string> oversign)
    {
        var present = new Dictionary<string, int>(fields.Count, StringComparer.OrdinalIgnoreCase);
        foreach (HeaderField f in fields)
        {
            if (f.Name.Length > 0)
            {
                present[f.Name] = present.GetValueOrDefault(f.Name) + 1;
            }
        }
        var over = new HashSet<string>(oversign, StringComparer.OrdinalIgnoreCase);
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string name in headers)
        {
            if (!seen.Add(name))
            {
                continue;
            }
            int count = present.GetValueOrDefault(name);
            if (over.Contains(name))
            {
                count++;
            }
            for (int i = 0; i < count; i++)
            {
                result.Add(name);
            }
        }
        return result;
    }

    /// <summary>Signs and returns the DKIM-Signature value (without the field name).</summary>
    /// <param name="fields">The header fields exactly as they will leave (final view).</param>
    /// <param name="bodyHash">The body hash for <paramref name="canonicalization"/>'s body part.</param>
    /// <param name="key">The private key.</param>
    /// <param name="domain">d=.</param>
    /// <param name="selector">s=.</param>
    /// <param name="identity">i=, or null to leave the default (<c>@d</c>).</param>
    /// <param name="canonicalization">c= as header/body.</param>
    /// <param name="signedHeaders">h=.</param>
    /// <param name="timestamp">t=, or null.</param>
    /// <param name="expiration">x=, or null.</param>
    public static string Sign(IReadOnlyList<HeaderField> fields, byte[] bodyHash, DkimPrivateKey key, string domain, string selector, string? identity,
        string canonicalization, IReadOnlyList<string> signedHeaders, DateTimeOffset? timestamp, DateTimeOffset? expiration)
    {
        DkimSignatureFields.TryParseCanonicalization(canonicalization, out DkimCanonicalization hc, out _);
        var sb = new StringBuilder(512);
        sb.Append("v=1; a=").Append(key.AlgorithmName).Append("; c=").Append(canonicalization.ToLowerInvariant())
          .Append("; d=").Append(domain).Append("; s=").Append(selector).Append(';');
        var line = new StringBuilder();
        if (timestamp is DateTimeOffset t)
        {
            line.Append(" t=").Append(t.ToUnixTimeSeconds()).Append(';');
        }
        if (expiration is DateTimeOffset x)
        {
            line.Append(" x=").Append(x.ToUnixTimeSeconds()).Append(';');
        }
        if (identity is not null)
        {
            line.Append(" i=").Append(identity).Append(';');
        }
        if (line.Length > 0)
        {
            sb.Append("\r\n\t").Append(line.ToString().TrimStart());
        }
        sb.Append("\r\n\t").Append(FoldList("h=", signedHeaders, ':')).Append(';');
        sb.Append("\r\n\tbh=").Append(Convert.ToBase64String(bodyHash)).Append(';');
        sb.Append("\r\n\tb=");
        string unsigned = sb.ToString();

        var data = new List<byte>(2048);
        DkimHeaderHashInput.AppendSignedFields(fields, signedHeaders, hc, data);
        DkimHeaderHashInput.AppendSignatureField(DkimHeaderHashInput.NewField(DkimVerifier.FieldName, unsigned), hc, data);
        byte[] signature = key.Sign(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(data));
        return unsigned + FoldBase64(Convert.ToBase64String(signature), firstLineRoom: 70);
    }

    /// <summary>Computes a body hash over <paramref name="body"/> read to the end.</summary>
    public static async Task<byte[]> HashBodyAsync(Stream body, DkimCanonicalization canonicalization, CancellationToken cancellationToken)
    {
        using var hasher = new DkimBodyHasher(canonicalization, HashAlgorithmName.SHA256, null);
        await DkimVerifier.HashBodyAsync(body, [hasher], cancellationToken).ConfigureAwait(false);
        return hasher.Complete();
    }

    /// <summary>Folds <c>prefix item:item:...</c> at separators so each line stays under 76 characters.</summary>
    internal static string FoldList(string prefix, IReadOnlyList<string> items, char separator)
    {
        var sb = new StringBuilder(prefix);
        int lineLength = 8 + prefix.Length;
        for (int i = 0; i < items.Count; i++)
        {
            string item = items[i] + (i < items.Count - 1 ? separator.ToString() : string.Empty);
            if (lineLength + item.Length > 76 && i > 0)
            {
                sb.Append("\r\n\t ");
                lineLength = 9;
            }
            sb.Append(item);
            lineLength += item.Length;
        }
        return sb.ToString();
    }

    /// <summary>Folds a base64 value into lines of at most 72 characters after a CRLF TAB.</summary>
    internal static string FoldBase64(string value, int firstLineRoom)
    {
        var sb = new StringBuilder(value.Length + value.Length / 64 * 3);
        int pos = 0;
        int room = firstLineRoom;
        while (pos < value.Length)
        {
            int take = Math.Min(room, value.Length - pos);
            if (pos > 0)
            {
                sb.Append("\r\n\t ");
            }
            sb.Append(value, pos, take);
            pos += take;
            room = 70;
        }
        return sb.ToString();
    }
}
