using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Host.Configuration;

/// <summary>A listen or connect address as written in the configuration: <c>127.0.0.1:10024</c>, <c>[::1]:10024</c>, <c>unix:/path</c>.</summary>
public sealed record EndpointSpec(IPAddress? Address, int Port, string? UnixPath)
{
    /// <summary>The .NET end point.</summary>
    public EndPoint ToEndPoint() => UnixPath is not null ? new UnixDomainSocketEndPoint(UnixPath) : new IPEndPoint(Address!, Port);

    /// <inheritdoc />
    public override string ToString() => UnixPath is not null ? "unix:" + UnixPath
        : Address!.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Address}]:{Port}" : $"{Address}:{Port}";

    /// <summary>Parses; on failure says why in words an admin understands.</summary>
    public static bool TryParse(string? text, out EndpointSpec? endpoint, out string? error)
    {
        endpoint = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "empty; expected host:port (e.g. 127.0.0.1:10024) or unix:/path";
            return false;
        }
        if (text.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            string path = text[5..];
            if (!Path.IsPathRooted(path))
            {
                error = $"'{text}': the unix socket path must be absolute";
                return false;
            }
            endpoint = new EndpointSpec(null, 0, path);
            return true;
        }
        string host;
        string port;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = $"'{text}': expected [ipv6]:port";
                return false;
            }
            host = text[1..close];
            port = text[(close + 2)..];
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon < 0 || text.IndexOf(':') != colon)
            {
                error = $"'{text}': expected host:port (IPv6 addresses go in brackets: [::1]:10024)";
                return false;
            }
            host = text[..colon];
            port = text[(colon + 1)..];
        }
        if (!IPAddress.TryParse(host, out IPAddress? address))
        {
            if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                address = IPAddress.Loopback;
            }
            else
            {
                error = $"'{text}': '{host}' is not an IP address (host names are not resolved for listeners)";
                return false;
            }
        }
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p < 1 || p > 65535)
        {
            error = $"'{text}': '{port}' is not a port number (1-65535)";
            return false;
        }
        endpoint = new EndpointSpec(address, p, null);
        return true;
    }
}
