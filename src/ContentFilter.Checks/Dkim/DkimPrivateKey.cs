using System.Security.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math.EC.Rfc8032;
using Org.BouncyCastle.Security;

namespace ContentFilter.Checks.Dkim;

/// <summary>A DKIM signing key: RSA (PKCS#1 or PKCS#8 PEM, as opendkim-genkey and openssl write) or Ed25519 (PKCS#8 PEM, or the bare base64 seed dkimpy writes).</summary>
public sealed class DkimPrivateKey : IDisposable
{
    private readonly RSA? _rsa;
    private readonly Ed25519PrivateKeyParameters? _ed25519;

    private DkimPrivateKey(RSA rsa)
    {
        _rsa = rsa;
        Algorithm = DkimAlgorithm.RsaSha256;
        KeyBits = rsa.KeySize;
        PublicKeyBase64 = Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo());
    }

    private DkimPrivateKey(Ed25519PrivateKeyParameters key)
    {
        _ed25519 = key;
        Algorithm = DkimAlgorithm.Ed25519Sha256;
        KeyBits = 256;
        PublicKeyBase64 = Convert.ToBase64String(key.GeneratePublicKey().GetEncoded());
    }

    /// <summary>The signing algorithm the key implies: rsa-sha256 or ed25519-sha256 (never rsa-sha1, RFC 8301).</summary>
    public DkimAlgorithm Algorithm { get; }

    /// <summary>The <c>a=</c> value.</summary>
    public string AlgorithmName => Algorithm == DkimAlgorithm.Ed25519Sha256 ? "ed25519-sha256" : "rsa-sha256";

    /// <summary>The <c>k=</c> value of the matching key record.</summary>
    public string KeyType => Algorithm == DkimAlgorithm.Ed25519Sha256 ? "ed25519" : "rsa";

    /// <summary>RSA modulus bits, or 256 for Ed25519.</summary>
    public int KeyBits { get; }

    /// <summary>The public key as published in <c>p=</c>: SubjectPublicKeyInfo for RSA, the 32 raw bytes for Ed25519 (RFC 8463 §4.2).</summary>
    public string PublicKeyBase64 { get; }

    /// <summary>Generates a new key.</summary>
    public static DkimPrivateKey Generate(DkimAlgorithm algorithm, int rsaBits = 2048)
    {
        if (algorithm == DkimAlgorithm.Ed25519Sha256)
        {
            return new DkimPrivateKey(new Ed25519PrivateKeyParameters(new SecureRandom()));
        }
        if (algorithm != DkimAlgorithm.RsaSha256)
        {
            throw new ArgumentException("only rsa-sha256 and ed25519-sha256 keys are made (RFC 8301)", nameof(algorithm));
        }
        if (rsaBits < 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(rsaBits), "RSA keys must have at least 1024 bits (RFC 8301 §3.2)");
        }
        return new DkimPrivateKey(RSA.Create(rsaBits));
    }

    /// <summary>Reads a key file (see <see cref="Parse"/>).</summary>
    public static DkimPrivateKey Load(string path) => Parse(File.ReadAllText(path));

    /// <summary>Parses a key: PEM (RSA PKCS#1, PKCS#8 RSA or Ed25519), or bare base64 (32-byte Ed25519 seed or DER, as OpenDKIM inline keys).</summary>
    /// <exception cref="FormatException">The text is no key this class can use.</exception>
    public static DkimPrivateKey Parse(string text)
    {
        text = text.Trim();
        byte[] der;
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            if (text.Contains("BEGIN RSA PRIVATE KEY", StringComparison.Ordinal))
            {
                var rsa = RSA.Create();
                try
                {
                    rsa.ImportFromPem(text);
                    return new DkimPrivateKey(rsa);
                }
                catch (Exception e) when (e is CryptographicException or ArgumentException)
                {
                    rsa.Dispose();
                    throw new FormatException("not a valid RSA private key", e);
                }
            }
            if (!PemEncoding.TryFind(text, out PemFields pem))
            {
                throw new FormatException("no PEM block found");
            }
            der = Convert.FromBase64String(text[pem.Base64Data]);
        }
        else
        {
            try
            {
                der = Convert.FromBase64String(string.Concat(text.Where(c => !char.IsWhiteSpace(c))));
            }
            catch (FormatException e)
            {
                throw new FormatException("key is neither PEM nor base64", e);
            }
            if (der.Length == Ed25519PrivateKeyParameters.KeySize)
            {
                return new DkimPrivateKey(new Ed25519PrivateKeyParameters(der, 0));
            }
        }
        return FromDer(der);
    }

    private static DkimPrivateKey FromDer(byte[] der)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportPkcs8PrivateKey(der, out _);
            return new DkimPrivateKey(rsa);
        }
        catch (CryptographicException)
        {
            try
            {
                rsa.ImportRSAPrivateKey(der, out _);
                return new DkimPrivateKey(rsa);
            }
            catch (CryptographicException)
            {
                rsa.Dispose();
            }
        }
        try
        {
            AsymmetricKeyParameter key = PrivateKeyFactory.CreateKey(der);
            if (key is Ed25519PrivateKeyParameters ed)
            {
                return new DkimPrivateKey(ed);
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or SecurityUtilityException or InvalidCastException)
        {
            throw new FormatException("not an RSA or Ed25519 private key", e);
        }
        throw new FormatException("not an RSA or Ed25519 private key");
    }

    /// <summary>Signs the canonical header input.</summary>
    public byte[] Sign(ReadOnlySpan<byte> data)
    {
        if (_ed25519 is not null)
        {
            // RFC 8463 §3: pure Ed25519 over the SHA-256 of the data; signed directly, without a signer object's buffer.
            byte[] digest = SHA256.HashData(data);
            byte[] signature = new byte[Ed25519PrivateKeyParameters.SignatureSize];
            _ed25519.Sign(Ed25519.Algorithm.Ed25519, null, digest, 0, digest.Length, signature, 0);
            return signature;
        }
        return _rsa!.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }

    /// <summary>The key as PEM: PKCS#1 for RSA (what opendkim-genkey writes), PKCS#8 for Ed25519.</summary>
    public string ExportPem()
    {
        if (_rsa is not null)
        {
            return _rsa.ExportRSAPrivateKeyPem() + "\n";
        }
        byte[] pkcs8 = Org.BouncyCastle.Pkcs.PrivateKeyInfoFactory.CreatePrivateKeyInfo(_ed25519!).GetEncoded();
        return new string(PemEncoding.Write("PRIVATE KEY", pkcs8)) + "\n";
    }

    /// <summary>The DNS TXT record value for the public key: <c>v=DKIM1; k=...; p=...</c> (RFC 6376 §3.6.1).</summary>
    public string DnsRecord() => $"v=DKIM1; k={KeyType}; p={PublicKeyBase64}";

    /// <inheritdoc />
    public void Dispose() => _rsa?.Dispose();
}
