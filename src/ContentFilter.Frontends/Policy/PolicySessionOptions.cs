using ContentFilter.Protocols.Policy;

namespace ContentFilter.Frontends.Policy;

/// <summary>Limits and timeouts of the policy door (config section <c>Policy</c>).</summary>
/// <remarks>
/// Postfix's side (SMTPD_POLICY_README): it waits <c>smtpd_policy_service_timeout</c> (100 s) for a reply, closes
/// an idle connection after <c>smtpd_policy_service_max_idle</c> (300 s) and any after
/// <c>smtpd_policy_service_max_ttl</c> (1000 s). Our idle timeout is a little longer than Postfix's so that Postfix,
/// not we, normally closes; the decision timeout is well inside Postfix's reply timeout so that a stuck store ends
/// in a closed connection (Postfix's default action) rather than a hung smtpd.
/// </remarks>
public sealed class PolicySessionOptions
{
    /// <summary>Request caps (line length, attribute count, request size).</summary>
    public PolicyLimits Limits { get; set; } = new();

    /// <summary>Seconds without a byte between requests before we close. Default 330.</summary>
    public int IdleTimeoutSeconds { get; set; } = 330;

    /// <summary>Seconds from the first byte of a request to its empty line. Default 100.</summary>
    public int RequestTimeoutSeconds { get; set; } = 100;

    /// <summary>Seconds the greylist (store, DNS) may take for one answer; past it we close without a reply. Default 10.</summary>
    public int DecisionTimeoutSeconds { get; set; } = 10;

    /// <summary>Checks the values; returns messages naming the key.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Limits.MaxLineLength < 256)
        {
            errors.Add("Limits:MaxLineLength: must be at least 256");
        }
        if (Limits.MaxAttributes < 16)
        {
            errors.Add("Limits:MaxAttributes: must be at least 16");
        }
        if (Limits.MaxRequestBytes < Limits.MaxLineLength)
        {
            errors.Add("Limits:MaxRequestBytes: must be at least MaxLineLength");
        }
        if (IdleTimeoutSeconds < 1 || RequestTimeoutSeconds < 1 || DecisionTimeoutSeconds < 1)
        {
            errors.Add("IdleTimeoutSeconds, RequestTimeoutSeconds, DecisionTimeoutSeconds: must be at least 1");
        }
        return errors;
    }
}
