namespace ContentFilter.Pipeline.Checks;

/// <summary>What the DKIM signer did to a message: the signatures it added, for the audit record (amavis's <c>dkim_new</c>).</summary>
public sealed record DkimSignResult : CheckResult
{
    /// <summary>Each DKIM-Signature added, as <c>selector:domain</c>, in the order they sit on top of the message.</summary>
    public IReadOnlyList<string> Signatures { get; init; } = Array.Empty<string>();
}
