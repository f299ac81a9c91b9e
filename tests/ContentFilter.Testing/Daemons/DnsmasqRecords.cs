using System.Net;
using System.Net.Sockets;
using System.Text;
using ContentFilter.Checks.Dns;

namespace ContentFilter.Testing.Daemons;

/// <summary>The records a <see cref="DnsmasqServer"/> serves: TXT, PTR, A/AAAA and MX, written as dnsmasq config lines.</summary>
/// <remarks>
/// <see cref="Txt"/> is <c>txt-record=</c>, <see cref="Ptr"/> is <c>ptr-record=</c> under in-addr.arpa/ip6.arpa, and
/// <see cref="Host"/> is one <c>host-record=</c> per address. Like a hosts file, dnsmasq also answers the PTR of a
/// host record's address with its name; a test that needs a PTR pointing elsewhere publishes it with <see cref="Ptr"/>
/// for an address no host record uses.
/// </remarks>
public sealed class DnsmasqRecords
{
    private readonly StringBuilder _conf = new();

    /// <summary>Adds a TXT record; values over 255 bytes are split into several strings (RFC 1035 §3.3.14).</summary>
    public DnsmasqRecords Txt(string name, string value)
    {
        _conf.Append("txt-record=").Append(Name(name));
        foreach (string chunk in DnsmasqServer.Split255(value))
        {
            _conf.Append(",\"").Append(chunk.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append('"');
        }
        _conf.Append('\n');
        return this;
    }

    /// <summary>Adds a PTR record: <paramref name="address"/>'s reverse name (<c>x.x.x.x.in-addr.arpa</c> or nibbles under <c>ip6.arpa</c>) points to <paramref name="name"/>.</summary>
    public DnsmasqRecords Ptr(IPAddress address, string name)
    {
        _conf.Append("ptr-record=").Append(DnsClientResolver.ArpaName(address)).Append(',').Append(Name(name)).Append('\n');
        return this;
    }

    /// <summary>Adds A (IPv4) and AAAA (IPv6) records of <paramref name="name"/>, one per address.</summary>
    public DnsmasqRecords Host(string name, params IPAddress[] addresses)
    {
        if (addresses.Length == 0)
        {
            throw new ArgumentException("a host record needs at least one address", nameof(addresses));
        }
        foreach (IPAddress a in addresses)
        {
            if (a.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                throw new ArgumentException($"{a} is neither IPv4 nor IPv6", nameof(addresses));
            }
            _conf.Append("host-record=").Append(Name(name)).Append(',').Append(a.ToString()).Append('\n');
        }
        return this;
    }

    /// <summary>Adds an MX record: <paramref name="name"/> is served by <paramref name="host"/> at <paramref name="preference"/>.</summary>
    public DnsmasqRecords Mx(string name, string host, int preference)
    {
        _conf.Append("mx-host=").Append(Name(name)).Append(',').Append(Name(host)).Append(',').Append(preference).Append('\n');
        return this;
    }

    /// <summary>The TTL of every answer, seconds (default 0: resolvers do not cache; a cache test wants more).</summary>
    public DnsmasqRecords Ttl(int seconds)
    {
        _conf.Append("local-ttl=").Append(seconds).Append('\n');
        return this;
    }

    /// <summary>
    /// The zone that is ours: unknown names inside it are NXDOMAIN, names outside it are REFUSED (as a resolver
    /// that cannot reach the internet answers them). Default: every name is ours (NXDOMAIN).
    /// </summary>
    public DnsmasqRecords Zone(string zone)
    {
        LocalZone = Name(zone);
        return this;
    }

    /// <summary>The zone given to <see cref="Zone"/>, <c>#</c> (every name) by default.</summary>
    public string LocalZone { get; private set; } = "#";

    /// <summary>The dnsmasq config file text.</summary>
    public override string ToString() => _conf.ToString();

    private static string Name(string name)
    {
        string n = name.TrimEnd('.');
        if (n.Length == 0 || n.IndexOfAny([',', '\n', '\r', '"', ' ']) >= 0)
        {
            throw new ArgumentException($"'{name}' is not a DNS name dnsmasq's config can carry", nameof(name));
        }
        return n;
    }
}
