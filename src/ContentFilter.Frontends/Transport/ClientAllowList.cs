using System.Net;

namespace ContentFilter.Frontends.Transport;

/// <summary>The networks allowed to connect to a listener (CIDR). Empty configuration means loopback only.</summary>
/// <remarks>
/// Safe by default: a filter that accepts mail from anywhere and reinjects it is an open relay, so only loopback may
/// connect unless the admin names networks. IPv4-mapped IPv6 peers (<c>::ffff:127.0.0.1</c>) are checked as IPv4.
/// </remarks>
public sealed class ClientAllowList
{
    private readonly IReadOnlyList<IPNetwork> _networks;

    private ClientAllowList(IReadOnlyList<IPNetwork> networks) => _networks = networks;

    /// <summary>Loopback only: 127.0.0.0/8 and ::1/128.</summary>
    public static ClientAllowList LoopbackOnly { get; } = new(new[] { IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128") });

    /// <summary>The networks.</summary>
    public IReadOnlyList<IPNetwork> Networks => _networks;

    /// <summary>Parses CIDR strings (a bare address means that one host); null or empty gives <see cref="LoopbackOnly"/>.</summary>
    public static bool TryParse(IEnumerable<string>? entries, out ClientAllowList? list, out string? error)
    {
        list = null;
        error = null;
        var networks = new List<IPNetwork>();
        foreach (string raw in entries ?? Array.Empty<string>())
        {
            string entry = raw.Trim();
            if (IPNetwork.TryParse(entry, out IPNetwork network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(entry, out IPAddress? address) && !entry.Contains('/'))
            {
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                error = $"'{raw}' is not a network in CIDR form (e.g. 192.0.2.0/24, 2001:db8::/32, 127.0.0.1)";
                return false;
            }
        }
        list = networks.Count == 0 ? LoopbackOnly : new ClientAllowList(networks);
        return true;
    }

    /// <summary>True when <paramref name="address"/> may connect.</summary>
    public bool Allows(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        foreach (IPNetwork n in _networks)
        {
            if (n.Contains(address))
            {
                return true;
            }
        }
        return false;
    }
}
