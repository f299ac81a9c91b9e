using System.Net;
using System.Net.Sockets;
using System.Text;
using ContentFilter.Checks.Dns;

namespace ContentFilter.Testing.Daemons;

/// <summary>The records a <see cref="DnsmasqServer"/> serves: TXT, PTR and A/AAAA, written as dnsmasq config lines.</summary>
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
