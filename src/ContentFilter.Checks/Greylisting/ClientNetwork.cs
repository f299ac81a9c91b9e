using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Checks.Greylisting;

/// <summary>The client part of a triplet key: the /24 (IPv4) or /64 (IPv6) network, or the full address.</summary>
/// <remarks>
/// postgrey lumps a network together because big senders retry from another host of the same pool
/// (PROTOCOLS.md §6). IPv4 is written as postgrey writes it (<c>192.0.2</c>, the last octet dropped); IPv6 as the
/// first four groups in hex (<c>2001:db8:0:1</c>).
/// </remarks>
public static class ClientNetwork
{
    /// <summary>The address IPv4-mapped addresses reduced to IPv4 (Postfix may report <c>::ffff:a.b.c.d</c> on dual-stack sockets).</summary>
    public static IPAddress Canonical(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>The key part for <paramref name="address"/>.</summary>
    public static string KeyPart(IPAddress address, bool lookupByHost)
    {
        address = Canonical(address);
        if (lookupByHost)
        {
            return address.ToString();
        }
        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out int written);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return $"{b[0]}.{b[1]}.{b[2]}";
        }
        return $"{(b[0] << 8) | b[1]:x}:{(b[2] << 8) | b[3]:x}:{(b[4] << 8) | b[5]:x}:{(b[6] << 8) | b[7]:x}";
    }
}
