namespace ContentFilter.Frontends.Delivery;

/// <summary>Why talking to the next hop broke down (as opposed to the next hop answering 4xx/5xx).</summary>
/// <remarks>Every kind means "try again later": no mail is lost because the upstream then gets 4xx (STYLE example 9).</remarks>
public enum NextHopFailure
{
    /// <summary>The connection was refused or the host unreachable (RFC 3463 4.4.1).</summary>
    Refused,

    /// <summary>No connection or greeting within the connect timeout (4.4.1).</summary>
    ConnectTimeout,

    /// <summary>The next hop closed the connection or it broke (4.4.2).</summary>
    Closed,

    /// <summary>A reply did not come within its timeout (4.4.2).</summary>
    Timeout,

    /// <summary>The next hop sent something that is not an SMTP reply, or a reply code that makes no sense here (4.4.2).</summary>
    Garbage,

    /// <summary>The next hop refused the session itself (greeting or EHLO not 2xx) or the XFORWARD command (4.4.2).</summary>
    SessionRefused,
}

/// <summary>A transport-level failure with the next hop; internal control flow, never thrown out of <see cref="SmtpNextHopClient"/>.</summary>
internal sealed class NextHopTransportException : Exception
{
    public NextHopTransportException(NextHopFailure failure, string detail, Exception? inner = null)
        : base(detail, inner)
    {
        Failure = failure;
    }

    public NextHopFailure Failure { get; }

    /// <summary>RFC 3463 enhanced code for the 451 we report.</summary>
    public string EnhancedCode => Failure is NextHopFailure.Refused or NextHopFailure.ConnectTimeout ? "4.4.1" : "4.4.2";
}
