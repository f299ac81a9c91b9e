using System.Security.Cryptography;
using System.Text;

namespace ContentFilter.Checks.Greylisting;

/// <summary>Turns store keys into one-way hashes when the privacy option is on (postgrey <c>--privacy</c>).</summary>
/// <remarks>
/// <para>With <c>sha256</c> a stolen database no longer lists who mails whom, but an attacker who guesses a triplet
/// can still confirm it by hashing the guess. <c>hmac-sha256</c> keys the hash with a secret, which stops that as
/// long as the secret stays off the stolen disk (e.g. in the configuration, not next to the database).</para>
/// <para>Keys are lower-case hex of the full 256-bit digest. Changing the mode or the secret starts an empty
/// greylist (every sender waits once).</para>
/// </remarks>
public sealed class GreylistKeyHasher
{
    private readonly string _mode;
    private readonly byte[] _secret;

    /// <summary>Creates the hasher: <paramref name="mode"/> is <c>none</c>, <c>sha256</c> or <c>hmac-sha256</c>.</summary>
    public GreylistKeyHasher(string mode, string secret)
    {
        _mode = mode;
        _secret = Encoding.UTF8.GetBytes(secret);
        if (mode is not ("none" or "sha256" or "hmac-sha256"))
        {
            throw new ArgumentException($"unknown privacy mode {mode}", nameof(mode));
        }
    }

    /// <summary>The key as stored.</summary>
    public string Hash(string key)
    {
        if (_mode == "none")
        {
            return key;
        }
        byte[] input = Encoding.UTF8.GetBytes(key);
        Span<byte> digest = stackalloc byte[32];
        if (_mode == "sha256")
        {
            SHA256.HashData(input, digest);
        }
        else
        {
            HMACSHA256.HashData(_secret, input, digest);
        }
        return Convert.ToHexStringLower(digest);
    }
}
