using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace ContentFilter.Checks.Dkim;

/// <summary>The signature primitives: RSASSA-PKCS1-v1_5 (RFC 6376 §3.3) and Ed25519 over the SHA-256 hash (RFC 8463 §3).</summary>
/// <remarks>RSA comes from the BCL; Ed25519 from BouncyCastle (a MimeKit dependency), as the BCL has none.</remarks>
public static class DkimCrypto
{
    /// <summary>Verifies <paramref name="signature"/> over <paramref name="data"/> (the canonical header input).</summary>
    public static bool Verify(DkimAlgorithm algorithm, DkimPublicKey key, ReadOnlySpan<byte> data, byte[] signature)
    {
        if (algorithm == DkimAlgorithm.Ed25519Sha256)
        {
            if (signature.Length != 64)
            {
                return false;
            }
            byte[] digest = SHA256.HashData(data);
            var verifier = new Ed25519Signer();
            verifier.Init(false, new Ed25519PublicKeyParameters(key.KeyData, 0));
            verifier.BlockUpdate(digest, 0, digest.Length);
            return verifier.VerifySignature(signature);
        }
        using RSA rsa = DkimPublicKey.ImportRsa(key.KeyData);
        HashAlgorithmName hash = algorithm == DkimAlgorithm.RsaSha1 ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA256;
        try
        {
            return rsa.VerifyData(data, signature, hash, RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
