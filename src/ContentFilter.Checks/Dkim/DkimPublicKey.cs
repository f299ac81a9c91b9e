using System.Security.Cryptography;

namespace ContentFilter.Checks.Dkim;

/// <summary>A DKIM key record (RFC 6376 §3.6.1) with the key decoded: RSA or Ed25519 (RFC 8463 §4).</summary>
public sealed class DkimPublicKey
{
    private DkimPublicKey()
    {
    }

    /// <summary>The key type (<c>k=</c>): <c>rsa</c> (the default) or <c>ed25519</c>.</summary>
    public string KeyType { get; private init; } = "rsa";

    /// <summary>True when <c>p=</c> is empty: the key was revoked (§3.6.1).</summary>
    public bool Revoked { get; private init; }

    /// <summary>Acceptable hash algorithms (<c>h=</c>), or null for all.</summary>
    public IReadOnlyList<string>? HashAlgorithms { get; private init; }

    /// <summary>Flags (<c>t=</c>): <c>y</c> testing, <c>s</c> i= must equal d= exactly.</summary>
    public IReadOnlyList<string> Flags { get; private init; } = [];

    /// <summary>The raw public key bytes: SubjectPublicKeyInfo/RSAPublicKey DER for RSA, 32 bytes for Ed25519.</summary>
    public byte[] KeyData { get; private init; } = [];

    /// <summary>The <c>p=</c> value as published, white space removed.</summary>
    public string KeyBase64 { get; private init; } = string.Empty;

    /// <summary>RSA modulus size in bits; 256 for Ed25519; 0 when revoked.</summary>
    public int KeyBits { get; private init; }

    /// <summary>True when the record says the domain is testing DKIM (<c>t=y</c>).</summary>
    public bool Testing => Flags.Contains("y");

    /// <summary>True when the record demands <c>i=</c> and <c>d=</c> domains be equal (<c>t=s</c>).</summary>
    public bool Strict => Flags.Contains("s");

    /// <summary>Parses a TXT record; false with <paramref name="error"/> when it is not a usable DKIM key record.</summary>
    public static bool TryParse(string record, out DkimPublicKey? key, out string? error)
    {
        key = null;
        if (!DkimTagList.TryParse(record, out DkimTagList tags, out error))
        {
            return false;
        }
        if (tags.Tags.Count > 0 && tags["v"] is string v)
        {
            // §3.6.1: v= is optional, but when present it MUST be first and MUST be "DKIM1".
            if (tags.Tags[0].Key != "v" || v != "DKIM1")
            {
                error = "bad v= in key record";
                return false;
            }
        }
        string k = (tags["k"] ?? "rsa").ToLowerInvariant();
        if (k is not ("rsa" or "ed25519"))
        {
            error = $"unknown key type {k}";
            return false;
        }
        if (tags["s"] is string s && !s.Split(':').Any(x => x.Trim() is "*" or "email"))
        {
            error = "key not for email (s=)";
            return false;
        }
        string? p = tags["p"];
        if (p is null)
        {
            error = "missing p= in key record";
            return false;
        }
        p = DkimTagList.StripWhiteSpace(p);
        IReadOnlyList<string>? h = tags["h"]?.Split(':').Select(x => x.Trim().ToLowerInvariant()).ToArray();
        IReadOnlyList<string> flags = tags["t"]?.Split(':').Select(x => x.Trim().ToLowerInvariant()).ToArray() ?? [];
        if (p.Length == 0)
        {
            key = new DkimPublicKey { KeyType = k, Revoked = true, HashAlgorithms = h, Flags = flags };
            return true;
        }
        byte[] data;
        try
        {
            data = Convert.FromBase64String(p);
        }
        catch (FormatException)
        {
            error = "p= is not base64";
            return false;
        }
        int bits;
        if (k == "ed25519")
        {
            if (data.Length != 32)
            {
                error = "ed25519 key is not 32 bytes";
                return false;
            }
            bits = 256;
        }
        else
        {
            try
            {
                using RSA rsa = ImportRsa(data);
                bits = rsa.KeySize;
            }
            catch (CryptographicException)
            {
                error = "p= is not an RSA public key";
                return false;
            }
        }
        key = new DkimPublicKey { KeyType = k, HashAlgorithms = h, Flags = flags, KeyData = data, KeyBase64 = p, KeyBits = bits };
        return true;
    }

    /// <summary>Imports an RSA public key published as SubjectPublicKeyInfo (the standard) or bare RSAPublicKey (seen in the wild).</summary>
    public static RSA ImportRsa(byte[] der)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportSubjectPublicKeyInfo(der, out int read);
            if (read != der.Length)
            {
                throw new CryptographicException("trailing data after the key");
            }
            return rsa;
        }
        catch (CryptographicException)
        {
            try
            {
                rsa.ImportRSAPublicKey(der, out int read);
                if (read != der.Length)
                {
                    throw new CryptographicException("trailing data after the key");
                }
                return rsa;
            }
            catch
            {
                rsa.Dispose();
                throw;
            }
        }
    }
}
