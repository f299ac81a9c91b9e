namespace ContentFilter.Pipeline.Messages;

/// <summary>One RCPT TO: the address without angle brackets and its ESMTP parameters exactly as received.</summary>
/// <remarks>DSN parameters (<c>NOTIFY=</c>, <c>ORCPT=</c>, RFC 3461) are passed to the next hop unchanged.</remarks>
public sealed record EnvelopeRecipient(string Address, IReadOnlyList<string> Parameters)
{
    /// <summary>The domain part (after the last <c>@</c>), lower-cased, or empty.</summary>
    public string Domain => Envelope.DomainOf(Address);
}
