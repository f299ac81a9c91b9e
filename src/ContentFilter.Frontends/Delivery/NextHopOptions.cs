using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Frontends.Delivery;

/// <summary>Where and how checked mail is handed back to Postfix (the reinjection smtpd, FILTER_README).</summary>
/// <remarks>
/// Defaults match the documented master.cf entry <c>127.0.0.1:10025 inet n - n - 10 smtpd</c> and Postfix's own
/// smtp client timeouts (<c>smtp_connect_timeout</c> 30 s, <c>smtp_*_timeout</c> 300 s, <c>smtp_data_done_timeout</c>
/// 600 s). Idle connections are kept shorter than Postfix's <c>smtpd_timeout</c> (300 s) so that we close them, not
/// Postfix, and each one holds a 10025 smtpd process: keep <see cref="MaxIdleConnections"/> below that service's
/// process limit.
/// </remarks>
public sealed class NextHopOptions
{
    /// <summary>Host (an IP address or a name) of the next hop. Default <c>127.0.0.1</c>. Ignored when <see cref="Endpoint"/> is set.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TCP port of the next hop. Default 10025. Ignored when <see cref="Endpoint"/> is set.</summary>
    public int Port { get; set; } = 10025;

    /// <summary>Alternative to Host/Port: <c>127.0.0.1:10025</c>, <c>[::1]:10025</c>, <c>inet:host:port</c> or <c>unix:/path</c>.</summary>
    public string? Endpoint { get; set; }

    /// <summary>Our name in EHLO. Default: the machine's host name.</summary>
    public string HeloName { get; set; } = Dns.GetHostName();

    /// <summary>Time to establish the connection and read the greeting. Default 30 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Time for each command's reply and each write of message data. Default 300 s.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Time for the reply to the final dot (the next hop may run its own checks then). Default 600 s.</summary>
    public TimeSpan DataDoneTimeout { get; set; } = TimeSpan.FromSeconds(600);

    /// <summary>Most idle connections kept for reuse; 0 closes each connection after its message. Default 4.</summary>
    public int MaxIdleConnections { get; set; } = 4;

    /// <summary>How long an idle connection is kept. Default 60 s (below Postfix's 300 s <c>smtpd_timeout</c>).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The end point to connect to, from <see cref="Endpoint"/> or <see cref="Host"/>/<see cref="Port"/>.</summary>
    /// <exception cref="FormatException">The configured end point is not understood.</exception>
    public EndPoint ResolveEndPoint()
    {
        string? spec = Endpoint?.Trim();
        if (string.IsNullOrEmpty(spec))
        {
            return MakeEndPoint(Host, Port);
        }
        if (spec.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            string path = spec[5..];
            if (path.Length == 0)
            {
                throw new FormatException("unix: needs a socket path");
            }
            return new UnixDomainSocketEndPoint(path);
        }
        if (spec.StartsWith("inet:", StringComparison.OrdinalIgnoreCase))
        {
            spec = spec[5..];
        }
        int colon = spec.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(spec.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new FormatException($"next hop end point '{Endpoint}' is not host:port or unix:/path");
        }
        string host = spec[..colon].Trim('[', ']');
        return MakeEndPoint(host, port);
    }

    /// <summary>Postfix-style name of the next hop for replies and logs: <c>smtp:[127.0.0.1]:10025</c>.</summary>
    public string DescribePeer()
    {
        try
        {
            return ResolveEndPoint() switch
            {
                UnixDomainSocketEndPoint u => $"smtp:unix:{u}",
                IPEndPoint ip => $"smtp:[{ip.Address}]:{ip.Port}",
                DnsEndPoint d => $"smtp:[{d.Host}]:{d.Port}",
                EndPoint other => "smtp:" + other,
            };
        }
        catch (FormatException)
        {
            return "smtp:" + Endpoint;
        }
    }

    /// <summary>Checks the values at start-up; returns the problems found (empty when valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        try
        {
            ResolveEndPoint();
        }
        catch (FormatException ex)
        {
            problems.Add(ex.Message);
        }
        if (Endpoint is null && Port is < 1 or > 65535)
        {
            problems.Add("Port must be 1-65535");
        }
        if (string.IsNullOrWhiteSpace(HeloName) || HeloName.Any(c => c <= ' ' || c > '~'))
        {
            problems.Add("HeloName must be a host name without spaces");
        }
        if (ConnectTimeout <= TimeSpan.Zero || CommandTimeout <= TimeSpan.Zero || DataDoneTimeout <= TimeSpan.Zero)
        {
            problems.Add("timeouts must be positive");
        }
        if (MaxIdleConnections < 0)
        {
            problems.Add("MaxIdleConnections must not be negative");
        }
        if (IdleTimeout <= TimeSpan.Zero)
        {
            problems.Add("IdleTimeout must be positive");
        }
        return problems;
    }

    private static EndPoint MakeEndPoint(string host, int port) =>
        IPAddress.TryParse(host, out IPAddress? ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
}
