namespace ContentFilter.Checks.Dkim;

/// <summary>The outcome of verifying one signature, in RFC 8601 §2.7.1 terms.</summary>
/// <param name="Result">pass, fail, neutral, permerror, temperror.</param>
/// <param name="Reason">Why, when not a plain pass (<c>body hash mismatch</c>, <c>key revoked</c> ...).</param>
/// <param name="Signature">The parsed signature, or null when it could not be parsed.</param>
/// <param name="RawDomain">The <c>d=</c> as written when the signature did not parse (for header.d).</param>
/// <param name="KeyBits">Key size when the key was fetched (for logs and A-R comments).</param>
public sealed record DkimResult(string Result, string? Reason, DkimSignatureFields? Signature, string? RawDomain = null, int KeyBits = 0)
{
    /// <summary>True for pass.</summary>
    public bool Passed => Result == "pass";
}
