using System.Text;
using ContentFilter.Checks.Dkim;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Arc;

/// <summary>Builds one ARC set (RFC 8617 §5.1): ARC-Authentication-Results, ARC-Message-Signature and ARC-Seal.</summary>
/// <remarks>
/// Tags are written in the ARC test suite's standard form (alphabetical, lower-case values except b=/bh=, one space
/// after each semicolon), so results can be compared with the published vectors byte for byte. With
/// <c>fold</c> the values are folded for transport; both header canonicalisations used here are relaxed, so
/// folding never changes what the signatures cover except inside b= of the AMS, which the seal signs as written.
/// </remarks>
public static class ArcSealBuilder
{
    /// <summary>Why no set may be added to <paramref name="chain"/>, or null when sealing is allowed.</summary>
    /// <remarks>A chain whose newest seal already says cv=fail is not extended (RFC 8617 §5.1), nor one of 50 sets (§4.2.1).</remarks>
    public static string? WhyNotSeal(ArcChain chain)
    {
        if (chain.Sets.Count >= ArcChain.MaxInstances)
        {
            return "chain already has 50 sets";
        }
        if (chain.Sets.Count > 0 && ArcVerifier.TryParseSeal(chain.Sets[^1].Seal.Value, out DkimTagList? tags, out _) && tags!["cv"] == "fail")
        {
            return "chain already failed";
        }
        return null;
    }

    /// <summary>Creates the three field values of instance <c>existing.Count + 1</c>.</summary>
    /// <param name="fields">The header fields as they will leave (the AMS signs these).</param>
    /// <param name="existing">The ARC sets already on the message, oldest first.</param>
    /// <param name="bodyHash">Relaxed SHA-256 body hash.</param>
    /// <param name="key">The sealing key.</param>
    /// <param name="domain">d=.</param>
    /// <param name="selector">s=.</param>
    /// <param name="chainValidation">cv=: none, pass or fail.</param>
    /// <param name="resultsPayload">The A-R payload (<c>authserv-id; method=result ...</c>) for the AAR.</param>
    /// <param name="signedHeaders">h= of the AMS (names as given; lower-cased in the tag).</param>
    /// <param name="timestamp">t=.</param>
    /// <param name="fold">Fold long values for transport.</param>
    public static (string Results, string MessageSignature, string Seal) Build(IReadOnlyList<HeaderField> fields, IReadOnlyList<ArcSet> existing,
        byte[] bodyHash, DkimPrivateKey key, string domain, string selector, string chainValidation, string resultsPayload,
        IReadOnlyList<string> signedHeaders, DateTimeOffset timestamp, bool fold)
    {
        int instance = existing.Count + 1;
        long t = timestamp.ToUnixTimeSeconds();
        string d = domain.ToLowerInvariant();
        string aar = $"i={instance}; {resultsPayload}";

        string h = string.Join(':', signedHeaders.Select(x => x.ToLowerInvariant()));
        string amsHead = $"a={key.AlgorithmName}; b=";
        string amsTail = $"; bh={Convert.ToBase64String(bodyHash)}; c=relaxed/relaxed; d={d}; h={h}; i={instance}; s={selector}; t={t}";
        var amsData = new List<byte>(2048);
        DkimHeaderHashInput.AppendSignedFields(fields, signedHeaders, DkimCanonicalization.Relaxed, amsData);
        DkimHeaderHashInput.AppendSignatureField(DkimHeaderHashInput.NewField(ArcChain.MessageSignatureName, amsHead + amsTail), DkimCanonicalization.Relaxed, amsData);
        string amsB = Convert.ToBase64String(key.Sign(amsData.ToArray()));
        string ams = fold ? Fold(amsHead, amsB, amsTail) : amsHead + amsB + amsTail;

        string asHead = $"a={key.AlgorithmName}; b=";
        string asTail = $"; cv={chainValidation}; d={d}; i={instance}; s={selector}; t={t}";
        // A seal with cv=fail covers only its own set (RFC 8617 §5.1.1): the earlier sets are not vouched for.
        var sets = chainValidation == "fail"
            ? []
            : existing.Select(s => (s.Results.Raw.ToArray(), s.MessageSignature.Raw.ToArray(), s.Seal.Raw.ToArray())).ToList();
        sets.Add((DkimHeaderHashInput.NewField(ArcChain.ResultsName, aar), DkimHeaderHashInput.NewField(ArcChain.MessageSignatureName, ams),
            DkimHeaderHashInput.NewField(ArcChain.SealName, asHead + asTail)));
        string asB = Convert.ToBase64String(key.Sign(ArcVerifier.SealInput(sets)));
        string seal = fold ? Fold(asHead, asB, asTail) : asHead + asB + asTail;
        return (aar, ams, seal);
    }

    private static string Fold(string head, string b, string tail)
    {
        var sb = new StringBuilder(head.Length + b.Length + tail.Length + 32);
        sb.Append(head).Append(DkimSignatureBuilder.FoldBase64(b, firstLineRoom: 60));
        int lineLength = 80; // force a break before the tags that follow b=
        foreach (string tag in tail.Split("; ", StringSplitOptions.RemoveEmptyEntries))
        {
            if (lineLength + tag.Length + 2 > 76)
            {
                sb.Append(";\r\n\t");
                lineLength = 8;
            }
            else
            {
                sb.Append("; ");
                lineLength += 2;
            }
            sb.Append(tag);
            lineLength += tag.Length;
        }
        return sb.ToString();
    }
}
