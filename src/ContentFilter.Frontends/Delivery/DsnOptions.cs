using System.Net;

namespace ContentFilter.Frontends.Delivery;

/// <summary>How delivery status notifications (RFC 3464) for recipients the next hop refused are written.</summary>
public sealed class DsnOptions
{
    /// <summary>Our name in <c>Reporting-MTA: dns; NAME</c> and in <c>From: MAILER-DAEMON@NAME</c>. Default: the host name.</summary>
    public string ReportingMta { get; set; } = Dns.GetHostName();

    /// <summary>
    /// With <c>RET=FULL</c> the whole message is returned only up to this size; larger ones get their header
    /// section only (RFC 3461 §4.3 lets us). Default 1 MiB, which also bounds what a bounce costs the next hop.
    /// </summary>
    public long MaxReturnedMessageBytes { get; set; } = 1024 * 1024;

    /// <summary>Checks the values at start-up; returns the problems found (empty when valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(ReportingMta) || ReportingMta.Any(c => c <= ' ' || c > '~' || c is '<' or '>' or '@'))
        {
            problems.Add("ReportingMta must be a host name");
        }
        if (MaxReturnedMessageBytes < 0)
        {
            problems.Add("MaxReturnedMessageBytes must not be negative");
        }
        return problems;
    }
}
