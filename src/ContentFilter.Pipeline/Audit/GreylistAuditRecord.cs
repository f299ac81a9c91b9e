namespace ContentFilter.Pipeline.Audit;

/// <summary>One greylisting decision, as postgrey logs it (<c>action=greylist, reason=new, client_name=...</c>).</summary>
public sealed record GreylistAuditRecord
{
    /// <summary>When.</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary><c>pass</c> or <c>greylist</c>.</summary>
    public required string Action { get; init; }

    /// <summary>postgrey's reason: <c>new</c>, <c>early-retry</c>, <c>triplet found</c>, <c>client whitelist</c> ...</summary>
    public required string Reason { get; init; }

    /// <summary>Client name.</summary>
    public string? ClientName { get; init; }

    /// <summary>Client address.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>Sender.</summary>
    public string? Sender { get; init; }

    /// <summary>Recipient.</summary>
    public string? Recipient { get; init; }

    /// <summary>Seconds the triplet was delayed when it passed, if it was.</summary>
    public double? DelaySeconds { get; init; }
}
