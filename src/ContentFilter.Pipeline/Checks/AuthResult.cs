namespace ContentFilter.Pipeline.Checks;

/// <summary>One resinfo of an Authentication-Results header (RFC 8601 §2.2): method, result, reason, properties.</summary>
/// <param name="Method">dkim, spf, dmarc, arc.</param>
/// <param name="Result">pass, fail, softfail, neutral, none, policy, temperror, permerror.</param>
/// <param name="Reason">Optional reason text (<c>reason="body hash did not verify"</c>).</param>
/// <param name="Properties">ptype.property=value pairs in order, e.g. (<c>header.d</c>, <c>example.com</c>).</param>
public sealed record AuthMethodResult(
    string Method,
    string Result,
    string? Reason,
    IReadOnlyList<KeyValuePair<string, string>> Properties)
{
    /// <summary>Optional comment written after the result (<c>dmarc=fail (p=reject dis=none)</c>); for humans, never parsed (RFC 8601 §2.2).</summary>
    public string? Comment { get; init; }
}

/// <summary>Results of an authentication check (DKIM, SPF, DMARC, ARC), each to become part of the one A-R header.</summary>
public sealed record AuthResult : CheckResult
{
    /// <summary>Resinfo entries in order.</summary>
    public IReadOnlyList<AuthMethodResult> Results { get; init; } = Array.Empty<AuthMethodResult>();

    /// <summary>For DMARC: the policy the domain asks for when the message fails (<c>none</c>, <c>quarantine</c>, <c>reject</c>), or null.</summary>
    public string? RequestedPolicy { get; init; }

    /// <summary>Extra header fields the check wants added (e.g. <c>Received-SPF</c>), as name/value pairs.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> AddHeaders { get; init; } = Array.Empty<KeyValuePair<string, string>>();
}
