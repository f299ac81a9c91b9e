using System.Globalization;
using System.Security.Cryptography;

namespace ContentFilter.Checks.Dkim;

/// <summary>The tags of one DKIM-Signature (RFC 6376 §3.5) or ARC-Message-Signature (RFC 8617 §4.1.2), validated.</summary>
/// <remarks>
/// Validation follows §6.1.1: missing required tags, an unknown version, an <c>i=</c> outside <c>d=</c>, or an
/// <c>h=</c> without From make the signature a permerror before any DNS query is spent on it.
/// </remarks>
public sealed class DkimSignatureFields
{
    private DkimSignatureFields(DkimTagList tags) => Tags = tags;

    /// <summary>All tags as written.</summary>
    public DkimTagList Tags { get; }

    /// <summary>The <c>a=</c> value as written (lower-cased).</summary>
    public string AlgorithmName { get; private init; } = string.Empty;

    /// <summary>The algorithm.</summary>
    public DkimAlgorithm Algorithm { get; private init; }

    /// <summary>The signature (<c>b=</c>), decoded.</summary>
    public byte[] Signature { get; private init; } = [];

    /// <summary>The <c>b=</c> value as written, white space removed.</summary>
    public string SignatureBase64 { get; private init; } = string.Empty;

    /// <summary>The body hash (<c>bh=</c>), decoded.</summary>
    public byte[] BodyHash { get; private init; } = [];

    /// <summary>Header canonicalisation.</summary>
    public DkimCanonicalization HeaderCanonicalization { get; private init; }

    /// <summary>Body canonicalisation.</summary>
    public DkimCanonicalization BodyCanonicalization { get; private init; }

    /// <summary>Signing domain (<c>d=</c>), lower-cased.</summary>
    public string Domain { get; private init; } = string.Empty;

    /// <summary>Selector (<c>s=</c>).</summary>
    public string Selector { get; private init; } = string.Empty;

    /// <summary>Signed header names (<c>h=</c>) in order.</summary>
    public IReadOnlyList<string> SignedHeaders { get; private init; } = [];

    /// <summary>Agent or user identifier (<c>i=</c>, default <c>@d</c>); for ARC the instance number as text.</summary>
    public string Identity { get; private init; } = string.Empty;

    /// <summary>Body length limit (<c>l=</c>) or null.</summary>
    public long? BodyLength { get; private init; }

    /// <summary>Signature timestamp (<c>t=</c>) or null.</summary>
    public DateTimeOffset? Timestamp { get; private init; }

    /// <summary>Expiration (<c>x=</c>) or null.</summary>
    public DateTimeOffset? Expiration { get; private init; }

    /// <summary>The hash algorithm implied by <see cref="Algorithm"/>.</summary>
    public HashAlgorithmName HashAlgorithm => Algorithm == DkimAlgorithm.RsaSha1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256;

    /// <summary>The key name to query: <c>selector._domainkey.domain</c> (§3.6.2.1).</summary>
    public string KeyName => $"{Selector}._domainkey.{Domain}";

    /// <summary>Parses and validates a signature value.</summary>
    /// <param name="value">The field value (after the colon).</param>
    /// <param name="arc">True for ARC-Message-Signature: no <c>v=</c>, <c>i=</c> is the instance number (RFC 8617 §4.1.2).</param>
    /// <param name="fields">The parsed signature.</param>
    /// <param name="error">Why it is invalid, for the A-R reason.</param>
    public static bool TryParse(string value, bool arc, out DkimSignatureFields? fields, out string? error)
    {
        fields = null;
        if (!DkimTagList.TryParse(value, out DkimTagList tags, out error))
        {
            return false;
        }
        if (!arc && tags["v"] != "1")
        {
            error = tags["v"] is null ? "missing v= tag" : "unsupported version";
            return false;
        }
        foreach (string required in new[] { "a", "b", "bh", "d", "h", "s" })
        {
            // ARC (as its published test suite reads RFC 8617): an empty h= signs no header field.
            if (arc && required == "h" && tags["h"] is not null)
            {
                continue;
            }
            if (string.IsNullOrEmpty(tags[required]))
            {
                error = $"missing {required}= tag";
                return false;
            }
        }
        string a = tags["a"]!.ToLowerInvariant();
        DkimAlgorithm algorithm;
        switch (a)
        {
            case "rsa-sha256":
                algorithm = DkimAlgorithm.RsaSha256;
                break;
            case "ed25519-sha256":
                algorithm = DkimAlgorithm.Ed25519Sha256;
                break;
            case "rsa-sha1":
                algorithm = DkimAlgorithm.RsaSha1;
                break;
            default:
                error = $"unsupported algorithm {a}";
                return false;
        }
        string b = DkimTagList.StripWhiteSpace(tags["b"]!);
        if (!TryBase64(b, out byte[] signature) || !TryBase64(DkimTagList.StripWhiteSpace(tags["bh"]!), out byte[] bodyHash))
        {
            error = "b= or bh= is not base64";
            return false;
        }
        // A missing c= means simple/simple for DKIM (RFC 6376 §3.5); the ARC test suite signs AMS without c= as
        // relaxed/relaxed, the only canonicalisation ARC implementations use, so ARC defaults to that.
        if (!TryParseCanonicalization(tags["c"] ?? (arc ? "relaxed/relaxed" : null), out DkimCanonicalization hc, out DkimCanonicalization bc))
        {
            error = "unsupported canonicalization";
            return false;
        }
        string d = tags["d"]!.ToLowerInvariant().TrimEnd('.');
        string s = tags["s"]!;
        if (!IsDomainLike(d) || !IsDomainLike(s))
        {
            error = "malformed d= or s=";
            return false;
        }
        string[] h = tags["h"]!.Split(':').Select(x => DkimTagList.StripWhiteSpace(x)).ToArray();
        if (arc)
        {
            // An empty name matches no field, so it contributes nothing to the hash (as ARC's reference code reads it).
            h = h.Where(x => x.Length > 0).ToArray();
        }
        else if (h.Any(x => x.Length == 0))
        {
            error = "malformed h= tag";
            return false;
        }
        if (!arc && !h.Any(x => x.Equals("from", StringComparison.OrdinalIgnoreCase)))
        {
            error = "From field not signed";
            return false;
        }
        string identity;
        if (arc)
        {
            identity = tags["i"] ?? string.Empty;
        }
        else
        {
            identity = tags["i"] ?? "@" + d;
            int at = identity.LastIndexOf('@');
            string idomain = at < 0 ? string.Empty : identity[(at + 1)..].ToLowerInvariant().TrimEnd('.');
            if (at < 0 || !(idomain == d || idomain.EndsWith("." + d, StringComparison.Ordinal)))
            {
                error = "i= domain is not d= or a subdomain of it";
                return false;
            }
        }
        long? l = null;
        if (tags["l"] is string ls)
        {
            if (!TryParseNumber(ls, out long lv))
            {
                error = "malformed l= tag";
                return false;
            }
            l = lv;
        }
        DateTimeOffset? t = null, x = null;
        if (tags["t"] is string ts)
        {
            if (!TryParseNumber(ts, out long tv))
            {
                error = "malformed t= tag";
                return false;
            }
            t = FromUnix(tv);
        }
        if (tags["x"] is string xs)
        {
            if (!TryParseNumber(xs, out long xv))
            {
                error = "malformed x= tag";
                return false;
            }
            x = FromUnix(xv);
        }
        if (t is not null && x is not null && x < t)
        {
            error = "x= is before t=";
            return false;
        }
        if (tags["q"] is string q && !q.Split(':').Any(m => m.Trim().StartsWith("dns/txt", StringComparison.OrdinalIgnoreCase)))
        {
            error = "unsupported query method";
            return false;
        }
        fields = new DkimSignatureFields(tags)
        {
            AlgorithmName = a,
            Algorithm = algorithm,
            Signature = signature,
            SignatureBase64 = b,
            BodyHash = bodyHash,
            HeaderCanonicalization = hc,
            BodyCanonicalization = bc,
            Domain = d,
            Selector = s,
            SignedHeaders = h,
            Identity = identity,
            BodyLength = l,
            Timestamp = t,
            Expiration = x,
        };
        return true;
    }

    /// <summary>Parses <c>c=</c>: <c>header[/body]</c>, each simple or relaxed; missing means simple (§3.5).</summary>
    public static bool TryParseCanonicalization(string? c, out DkimCanonicalization header, out DkimCanonicalization body)
    {
        header = body = DkimCanonicalization.Simple;
        if (string.IsNullOrEmpty(c))
        {
            return true;
        }
        string[] parts = c.ToLowerInvariant().Split('/');
        if (parts.Length > 2 || !TryOne(parts[0], out header))
        {
            return false;
        }
        return parts.Length == 1 || TryOne(parts[1], out body);

        static bool TryOne(string s, out DkimCanonicalization value)
        {
            value = DkimCanonicalization.Simple;
            switch (s.Trim())
            {
                case "simple":
                    return true;
                case "relaxed":
                    value = DkimCanonicalization.Relaxed;
                    return true;
                default:
                    return false;
            }
        }
    }

    private static bool TryBase64(string s, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromBase64String(s);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }

    private static bool TryParseNumber(string s, out long value)
    {
        value = 0;
        // §3.5: at most 76 bits for l=, 12 digits for t=/x=; more than 15 digits cannot be a sane value.
        return s.Length is > 0 and <= 15 && s.All(char.IsAsciiDigit) && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static DateTimeOffset FromUnix(long seconds) =>
        seconds > 253402300799 ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeSeconds(seconds);

    private static bool IsDomainLike(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' || c > 127) && !s.StartsWith('.') && !s.Contains("..", StringComparison.Ordinal);
}
