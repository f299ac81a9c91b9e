using System.Buffers;
using System.Security.Cryptography;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Dkim;

/// <summary>Verifies the DKIM-Signature fields of one message (RFC 6376 §6, RFC 8301, RFC 8463), streaming the body.</summary>
/// <remarks>
/// Order of work keeps cost bounded: signatures are parsed first (syntax errors cost nothing), keys fetched next,
/// and the body is read once, in 64 KiB chunks, only for signatures still alive, with one hasher per distinct
/// (canonicalisation, hash, l=) triple. Memory does not grow with the body.
/// </remarks>
public sealed class DkimVerifier
{
    /// <summary>Field name of DKIM signatures.</summary>
    public const string FieldName = "DKIM-Signature";

    private readonly DkimKeyLookup _keys;
    private readonly DkimOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates a verifier.</summary>
    public DkimVerifier(DkimKeyLookup keys, DkimOptions options, TimeProvider time)
    {
        _keys = keys;
        _options = options;
        _time = time;
    }

    /// <summary>Verifies up to <see cref="DkimOptions.MaxSignatures"/> signatures, top-down.</summary>
    /// <param name="fields">The header fields as received (raw bytes).</param>
    /// <param name="body">A stream positioned at the first body byte; read to the end only when needed.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<IReadOnlyList<DkimResult>> VerifyAsync(IReadOnlyList<HeaderField> fields, Stream body, CancellationToken cancellationToken)
    {
        var work = new List<Work>();
        foreach (HeaderField f in fields)
        {
            if (!f.Is(FieldName))
            {
                continue;
            }
            if (!HasSignatureTag(f.Value))
            {
                // A field without b= carries no signature at all; OpenDKIM and the published corpus treat the
                // message as unsigned (NOSIG) rather than as a broken signature.
                continue;
            }
            if (work.Count >= _options.MaxSignatures)
            {
                break;
            }
            work.Add(new Work(f));
        }
        if (work.Count == 0)
        {
            return [];
        }

        DateTimeOffset now = _time.GetUtcNow();
        string? fromProblem = CheckFrom(fields);
        foreach (Work w in work)
        {
            if (!DkimSignatureFields.TryParse(w.Field.Value, arc: false, out DkimSignatureFields? sig, out string? error))
            {
                w.Result = new DkimResult("permerror", "syntax error: " + error, null, RawDomain(w.Field.Value));
                continue;
            }
            w.Signature = sig;
            if (fromProblem is not null)
            {
                w.Result = new DkimResult("permerror", fromProblem, sig);
            }
            else if (sig!.Expiration is DateTimeOffset x && x < now)
            {
                w.Result = new DkimResult("permerror", "signature expired", sig);
            }
            else if (sig.Timestamp is DateTimeOffset t && t > now + _options.AllowedClockSkew)
            {
                w.Result = new DkimResult("permerror", "signature timestamp in the future", sig);
            }
        }

        foreach (Work w in work.Where(w => w.Result is null))
        {
            DkimSignatureFields sig = w.Signature!;
            (DkimKeyLookupStatus status, DkimPublicKey? key, string? error) = await _keys.LookupAsync(sig.Selector, sig.Domain, cancellationToken).ConfigureAwait(false);
            w.Result = status switch
            {
                DkimKeyLookupStatus.TempError => new DkimResult("temperror", error, sig),
                DkimKeyLookupStatus.NoKey => new DkimResult("permerror", "no key for signature", sig),
                DkimKeyLookupStatus.Invalid => new DkimResult("permerror", "bad key record: " + error, sig),
                _ => CheckKey(sig, key!, _options.MinimumKeyBits),
            };
            w.Key = key;
        }

        List<Work> alive = work.Where(w => w.Result is null).ToList();
        if (alive.Count > 0)
        {
            var hashers = new Dictionary<(DkimCanonicalization, HashAlgorithmName, long?), DkimBodyHasher>();
            try
            {
                foreach (Work w in alive)
                {
                    var k = (w.Signature!.BodyCanonicalization, w.Signature.HashAlgorithm, w.Signature.BodyLength);
                    if (!hashers.TryGetValue(k, out DkimBodyHasher? h))
                    {
                        hashers[k] = h = new DkimBodyHasher(k.Item1, k.Item2, k.Item3);
                    }
                    w.Hasher = h;
                }
                await HashBodyAsync(body, hashers.Values.ToList(), cancellationToken).ConfigureAwait(false);
                foreach (Work w in alive)
                {
                    w.Result = Finish(w, fields);
                }
            }
            finally
            {
                foreach (DkimBodyHasher h in hashers.Values)
                {
                    h.Dispose();
                }
            }
        }
        return work.Select(w => w.Result!).ToList();
    }

    /// <summary>Key checks of §6.1.2 and RFC 8301: type, hash list, revocation, size, strict identity.</summary>
    public static DkimResult? CheckKey(DkimSignatureFields sig, DkimPublicKey key, int minimumKeyBits)
    {
        string wantType = sig.Algorithm == DkimAlgorithm.Ed25519Sha256 ? "ed25519" : "rsa";
        if (key.Revoked)
        {
            return new DkimResult("permerror", "key revoked", sig);
        }
        if (key.KeyType != wantType)
        {
            return new DkimResult("permerror", $"key type {key.KeyType} does not match {sig.AlgorithmName}", sig);
        }
        string hash = sig.Algorithm == DkimAlgorithm.RsaSha1 ? "sha1" : "sha256";
        if (key.HashAlgorithms is not null && !key.HashAlgorithms.Contains(hash))
        {
            return new DkimResult("permerror", $"key does not allow {hash}", sig);
        }
        if (key.KeyType == "rsa" && key.KeyBits < minimumKeyBits)
        {
            return new DkimResult("permerror", $"key too short ({key.KeyBits} bits)", sig, KeyBits: key.KeyBits);
        }
        if (key.Strict)
        {
            int at = sig.Identity.LastIndexOf('@');
            if (!sig.Identity[(at + 1)..].Equals(sig.Domain, StringComparison.OrdinalIgnoreCase))
            {
                return new DkimResult("permerror", "key requires i= domain equal to d= (t=s)", sig);
            }
        }
        return null;
    }

    /// <summary>Reads the body once and feeds every hasher.</summary>
    public static async Task HashBodyAsync(Stream body, IReadOnlyList<DkimBodyHasher> hashers, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int n;
            while ((n = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                foreach (DkimBodyHasher h in hashers)
                {
                    h.Write(buffer.AsSpan(0, n));
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static DkimResult Finish(Work w, IReadOnlyList<HeaderField> fields)
    {
        DkimSignatureFields sig = w.Signature!;
        DkimBodyHasher hasher = w.Hasher!;
        byte[] bodyHash = hasher.Complete();
        int bits = w.Key!.KeyBits;
        if (sig.BodyLength is long l && l > hasher.CanonicalLength)
        {
            return new DkimResult("permerror", "l= exceeds the body length", sig, KeyBits: bits);
        }
        if (!CryptographicOperations.FixedTimeEquals(bodyHash, sig.BodyHash))
        {
            return new DkimResult("fail", "body hash mismatch", sig, KeyBits: bits);
        }
        var data = new List<byte>(1024);
        DkimHeaderHashInput.AppendSignedFields(fields, sig.SignedHeaders, sig.HeaderCanonicalization, data);
        DkimHeaderHashInput.AppendSignatureField(w.Field.Raw.Span, sig.HeaderCanonicalization, data);
        if (!DkimCrypto.Verify(sig.Algorithm, w.Key, data.ToArray(), sig.Signature))
        {
            return new DkimResult("fail", "bad signature", sig, KeyBits: bits);
        }
        if (sig.Algorithm == DkimAlgorithm.RsaSha1)
        {
            // RFC 8301 §3.1: verifiers MUST NOT consider rsa-sha1 signatures valid. Checked last so a broken
            // rsa-sha1 signature still reports its real failure.
            return new DkimResult("permerror", "rsa-sha1 is not accepted (RFC 8301)", sig, KeyBits: bits);
        }
        if (sig.BodyLength is long limit && limit < hasher.CanonicalLength)
        {
            // The signature is good, but text after l= octets is unsigned: flag it so policy and readers know.
            return new DkimResult("pass", "l= leaves part of the body unsigned", sig, KeyBits: bits);
        }
        return new DkimResult("pass", null, sig, KeyBits: bits);
    }

    /// <summary>§5.4 and RFC 5322 §3.6: a signed message has a From field with an address; without one there is no author to vouch for.</summary>
    private static string? CheckFrom(IReadOnlyList<HeaderField> fields)
    {
        HeaderField? from = fields.LastOrDefault(f => f.Is("From"));
        if (from is null)
        {
            return "message has no From field";
        }
        return from.Value.Contains('@') ? null : "From field has no address";
    }

    private static bool HasSignatureTag(string value)
    {
        foreach (string part in value.Split(';'))
        {
            string p = part.TrimStart(' ', '\t', '\r', '\n');
            if (p.StartsWith('b') && p[1..].TrimStart(' ', '\t', '\r', '\n').StartsWith('='))
            {
                return true;
            }
        }
        return false;
    }

    private static string? RawDomain(string value)
    {
        foreach (string part in value.Split(';'))
        {
            string p = part.Trim(' ', '\t', '\r', '\n');
            if (p.StartsWith("d=", StringComparison.Ordinal))
            {
                return p[2..].Trim();
            }
        }
        return null;
    }

    private sealed class Work(HeaderField field)
    {
        public HeaderField Field { get; } = field;

        public DkimSignatureFields? Signature { get; set; }

        public DkimPublicKey? Key { get; set; }

        public DkimBodyHasher? Hasher { get; set; }

        public DkimResult? Result { get; set; }
    }
}
