using ContentFilter.Pipeline.Delivery;

namespace ContentFilter.Frontends.Delivery;

/// <summary>The next hop did not take a DSN; the caller answers 4xx upstream so Postfix retries the whole message.</summary>
public sealed class DsnDeliveryException : Exception
{
    /// <summary>Creates the exception from the next hop's outcome.</summary>
    public DsnDeliveryException(DeliveryOutcome outcome)
        : base($"The next hop did not accept the delivery status notification: {outcome.Final}")
    {
        Outcome = outcome;
    }

    /// <summary>What the next hop said.</summary>
    public DeliveryOutcome Outcome { get; }
}
