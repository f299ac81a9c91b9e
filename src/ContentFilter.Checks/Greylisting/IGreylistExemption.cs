using ContentFilter.Pipeline.Greylisting;

namespace ContentFilter.Checks.Greylisting;

/// <summary>A reason to let a client skip greylisting that postgrey does not have (SPF pass, forward-confirmed rDNS).</summary>
/// <remarks>Asked after the static whitelists and the auto-whitelist, before the triplet. An exemption that fails (DNS trouble) answers false: the client is greylisted, which only delays mail.</remarks>
public interface IGreylistExemption
{
    /// <summary>The log reason when it applies, e.g. <c>spf pass</c>.</summary>
    string Reason { get; }

    /// <summary>True when this client may skip greylisting.</summary>
    Task<bool> IsExemptAsync(GreylistRequest request, CancellationToken cancellationToken);
}
