using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Frontends.Transport;

/// <summary>A listen address as configured: <c>127.0.0.1:10024</c>, <c>[::1]:10024</c> or <c>unix:/run/contentfilter/smtp.sock</c>.</summary>
/// <remarks>Host names are not resolved: a listener's address must not depend on DNS at start-up.</remarks>
public sealed record ListenEndpoint
{
    private ListenEndpoint(IPAddress? address, int port, string? unixPath)
    {
        Address = address;
        Port = port;
        UnixPath = unixPath;
    }

    /// <summary>The IP address, or null for a unix socket.</summary>
    public IPAddress? Address { get; }

    /// <summary>The TCP port (0 = any free port, for tests).</summary>
    public int Port { get; }

    /// <summary>The unix socket path, or null for TCP.</summary>
    public string? UnixPath { get; }

    /// <summary>True for a unix socket.</summary>
    public bool IsUnix => UnixPath is not null;

    /// <summary>True for a loopback TCP address (127.0.0.0/8, ::1). Unix sockets count as local too.</summary>
    public bool IsLocal => IsUnix || IPAddress.IsLoopback(Address!);

    /// <summary>The .NET end point to bind.</summary>
    public EndPoint ToEndPoint() => UnixPath is not null ? new UnixDomainSocketEndPoint(UnixPath) : new IPEndPoint(Address!, Port);

    /// <inheritdoc />
    public override string ToString() => UnixPath is not null ? "unix:" + UnixPath
        : Address!.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Address}]:{Port}" : $"{Address}:{Port}";

    /// <summary>Parses or throws <see cref="FormatException"/> with the reason.</summary>
    public static ListenEndpoint Parse(string? text) =>
        TryParse(text, out ListenEndpoint? endpoint, out string? error) ? endpoint! : throw new FormatException(error);

    /// <summary>Parses; on failure <paramref name="error"/> says why in words an admin understands.</summary>
    public static bool TryParse(string? text, out ListenEndpoint? endpoint, out string? error)
    {
        endpoint = null;
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the endpoint is empty; expected host:port (e.g. 127.0.0.1:10024), [ipv6]:port or unix:/path";
            return false;
        }
        text = text.Trim();
        if (text.StartsWith("unix:", StringComparison.OrdinalIgnoreCase))
        {
            string path = text[5..];
            if (path.Length == 0 || path[0] != '/')
            {
                error = $"'{text}': the unix socket path must be absolute (unix:/run/contentfilter/smtp.sock)";
                return false;
            }
            if (System.Text.Encoding.UTF8.GetByteCount(path) > 107)
            {
                error = $"'{text}': the unix socket path is longer than 107 bytes (the sun_path limit)";
                return false;
            }
            endpoint = new ListenEndpoint(null, 0, path);
            return true;
        }
        string host;
        string port;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                error = $"'{text}': expected [ipv6]:port, e.g. [::1]:10024";
                return false;
            }
            host = text[1..close];
            port = text[(close + 2)..];
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                error = $"'{text}': the port is missing; expected host:port, e.g. 127.0.0.1:10024";
                return false;
            }
            if (text.IndexOf(':') != colon)
            {
                error = $"'{text}': IPv6 addresses go in brackets, e.g. [::1]:10024";
                return false;
            }
            host = text[..colon];
            port = text[(colon + 1)..];
        }
        if (!IPAddress.TryParse(host, out IPAddress? address) || host.Contains('%'))
        {
            if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                address = IPAddress.Loopback;
            }
            else
            {
                error = $"'{text}': '{host}' is not an IP address (listener host names are not resolved; use 127.0.0.1 or ::1)";
                return false;
            }
        }
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p > 65535)
        {
            error = $"'{text}': '{port}' is not a port number (0-65535)";
            return false;
        }
        endpoint = new ListenEndpoint(address, p, null);
        return true;
    }
}
