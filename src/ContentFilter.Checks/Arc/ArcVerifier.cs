using System.Security.Cryptography;
using ContentFilter.Checks.Dkim;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Arc;

/// <summary>Validates an ARC chain (RFC 8617 §5.2), reusing the DKIM parts for hashing, keys and signatures.</summary>
/// <remarks>
/// Only the newest ARC-Message-Signature is checked (§5.2 step 5: older ones are expected to break as
/// intermediaries modify the message), then every ARC-Seal from newest to oldest, each over all sets up to its own
/// with relaxed header canonicalisation (§5.1.1). Structure is checked before any DNS query.
/// </remarks>
public sealed class ArcVerifier
{
    private readonly DkimKeyLookup _keys;
    private readonly int _minimumKeyBits;

    /// <summary>Creates a verifier.</summary>
    public ArcVerifier(DkimKeyLookup keys, int minimumKeyBits)
    {
        _keys = keys;
        _minimumKeyBits = minimumKeyBits;
    }

    /// <summary>Validates the chain in <paramref name="fields"/>; <paramref name="body"/> is positioned at the body.</summary>
    public async Task<ArcValidation> VerifyAsync(IReadOnlyList<HeaderField> fields, Stream body, CancellationToken cancellationToken)
    {
        if (!ArcChain.HasArcFields(fields))
        {
            return ArcValidation.None;
        }
        if (!ArcChain.TryParse(fields, out ArcChain chain, out string? error))
        {
            return Fail(error, 0, null);
        }
        int n = chain.Sets.Count;
        var seals = new List<DkimTagList>(n);
        foreach (ArcSet set in chain.Sets)
        {
            if (!TryParseSeal(set.Seal.Value, out DkimTagList? tags, out error))
            {
                return Fail($"ARC-Seal i={set.Instance}: {error}", n, null);
            }
            seals.Add(tags!);
        }
        string? domain = seals[^1]["d"]?.ToLowerInvariant();
        if (seals[^1]["cv"] == "fail")
        {
            return Fail($"chain already failed at i={n}", n, domain);
        }
        for (int i = 0; i < n; i++)
        {
            string want = i == 0 ? "none" : "pass";
            if (seals[i]["cv"] != want)
            {
                return Fail($"ARC-Seal i={i + 1} has cv={seals[i]["cv"]}, expected {want}", n, domain);
            }
        }

        string? amsProblem = await VerifyMessageSignatureAsync(fields, chain.Sets[^1], body, cancellationToken).ConfigureAwait(false);
        if (amsProblem is not null)
        {
            return Fail($"ARC-Message-Signature i={n}: {amsProblem}", n, domain);
        }
        for (int i = n; i >= 1; i--)
        {
            string? sealProblem = await VerifySealAsync(chain, i, seals[i - 1], cancellationToken).ConfigureAwait(false);
            if (sealProblem is not null)
            {
                return Fail($"ARC-Seal i={i}: {sealProblem}", n, domain);
            }
        }
        return new ArcValidation("pass", null, n, domain);
    }

    /// <summary>The data an ARC-Seal signs: every set up to and including its own (raw field bytes, oldest first), AAR, AMS, AS in order, relaxed (§5.1.1).</summary>
    public static byte[] SealInput(IReadOnlyList<(byte[] Results, byte[] MessageSignature, byte[] Seal)> sets)
    {
        var data = new List<byte>(4096);
        for (int j = 0; j < sets.Count; j++)
        {
            DkimHeaderCanonicalizer.Canonicalize(sets[j].Results, DkimCanonicalization.Relaxed, data);
            DkimHeaderCanonicalizer.Canonicalize(sets[j].MessageSignature, DkimCanonicalization.Relaxed, data);
            if (j < sets.Count - 1)
            {
                DkimHeaderCanonicalizer.Canonicalize(sets[j].Seal, DkimCanonicalization.Relaxed, data);
            }
            else
            {
                DkimHeaderHashInput.AppendSignatureField(sets[j].Seal, DkimCanonicalization.Relaxed, data);
            }
        }
        return data.ToArray();
    }

    /// <summary>Parses an ARC-Seal value (§4.1.3): a, b, cv, d, i, s required; h= is forbidden.</summary>
    internal static bool TryParseSeal(string value, out DkimTagList? tags, out string? error)
    {
        if (!DkimTagList.TryParse(value, out DkimTagList t, out error))
        {
            tags = null;
            return false;
        }
        tags = t;
        foreach (string required in new[] { "a", "b", "cv", "d", "i", "s" })
        {
            if (string.IsNullOrEmpty(t[required]))
            {
                error = $"missing {required}= tag";
                return false;
            }
        }
        if (t["h"] is not null)
        {
            error = "h= is not allowed in ARC-Seal";
            return false;
        }
        if (t["cv"] is not ("none" or "pass" or "fail"))
        {
            error = "invalid cv= value";
            return false;
        }
        return true;
    }

    private async Task<string?> VerifyMessageSignatureAsync(IReadOnlyList<HeaderField> fields, ArcSet set, Stream body, CancellationToken cancellationToken)
    {
        if (!DkimSignatureFields.TryParse(set.MessageSignature.Value, arc: true, out DkimSignatureFields? sig, out string? error))
        {
            return error;
        }
        if (sig!.Algorithm == DkimAlgorithm.RsaSha1)
        {
            return "rsa-sha1 is not accepted (RFC 8301)";
        }
        if (sig.SignedHeaders.Any(h => h.Equals(ArcChain.SealName, StringComparison.OrdinalIgnoreCase)))
        {
            return "h= must not include ARC-Seal";
        }
        (DkimKeyLookupStatus status, DkimPublicKey? key, string? keyError) = await _keys.LookupAsync(sig.Selector, sig.Domain, cancellationToken).ConfigureAwait(false);
        if (status != DkimKeyLookupStatus.Found)
        {
            return keyError ?? "no key";
        }
        if (DkimVerifier.CheckKey(sig, key!, _minimumKeyBits) is DkimResult bad)
        {
            return bad.Reason;
        }
        using var hasher = new DkimBodyHasher(sig.BodyCanonicalization, sig.HashAlgorithm, sig.BodyLength);
        await DkimVerifier.HashBodyAsync(body, [hasher], cancellationToken).ConfigureAwait(false);
        if (!CryptographicOperations.FixedTimeEquals(hasher.Complete(), sig.BodyHash))
        {
            return "body hash mismatch";
        }
        var data = new List<byte>(1024);
        DkimHeaderHashInput.AppendSignedFields(fields, sig.SignedHeaders, sig.HeaderCanonicalization, data);
        DkimHeaderHashInput.AppendSignatureField(set.MessageSignature.Raw.Span, sig.HeaderCanonicalization, data);
        return DkimCrypto.Verify(sig.Algorithm, key!, data.ToArray(), sig.Signature) ? null : "bad signature";
    }

    private async Task<string?> VerifySealAsync(ArcChain chain, int instance, DkimTagList seal, CancellationToken cancellationToken)
    {
        string a = seal["a"]!.ToLowerInvariant();
        DkimAlgorithm algorithm = a switch
        {
            "rsa-sha256" => DkimAlgorithm.RsaSha256,
            "ed25519-sha256" => DkimAlgorithm.Ed25519Sha256,
            _ => DkimAlgorithm.RsaSha1,
        };
        if (algorithm == DkimAlgorithm.RsaSha1)
        {
            return $"unsupported algorithm {a}";
        }
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(DkimTagList.StripWhiteSpace(seal["b"]!));
        }
        catch (FormatException)
        {
            return "b= is not base64";
        }
        string domain = seal["d"]!.ToLowerInvariant();
        (DkimKeyLookupStatus status, DkimPublicKey? key, string? keyError) = await _keys.LookupAsync(seal["s"]!, domain, cancellationToken).ConfigureAwait(false);
        if (status != DkimKeyLookupStatus.Found)
        {
            return keyError ?? "no key";
        }
        if (key!.Revoked)
        {
            return "key revoked";
        }
        if (key.KeyType != (algorithm == DkimAlgorithm.Ed25519Sha256 ? "ed25519" : "rsa"))
        {
            return "key type does not match a=";
        }
        if (key.KeyType == "rsa" && key.KeyBits < _minimumKeyBits)
        {
            return $"key too short ({key.KeyBits} bits)";
        }
        byte[] data = SealInput(chain.Sets.Take(instance).Select(s => (s.Results.Raw.ToArray(), s.MessageSignature.Raw.ToArray(), s.Seal.Raw.ToArray())).ToList());
        return DkimCrypto.Verify(algorithm, key, data, signature) ? null : "bad signature";
    }

    private static ArcValidation Fail(string? reason, int instances, string? domain) => new("fail", reason, instances, domain);
}
