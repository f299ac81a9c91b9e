using ContentFilter.Pipeline.Checks;

namespace ContentFilter.Pipeline.Delivery;

/// <summary>Sends a delivery status notification (RFC 3464) for recipients the next hop refused permanently.</summary>
/// <remarks>
/// Used when some recipients were accepted and others refused with 5xx: the proxy answers 2xx upstream (the
/// accepted copies are delivered) and reports the refused ones to the envelope sender, as amavis does.
/// Never sent for the null sender (RFC 5321 §4.5.5).
/// </remarks>
public interface IDsnSender
{
    /// <summary>Builds the DSN and hands it to the next hop. Throws on failure (the caller then answers 4xx).</summary>
    Task SendFailureNoticeAsync(MessageContext context, IReadOnlyList<RecipientOutcome> failed, CancellationToken cancellationToken);
}
