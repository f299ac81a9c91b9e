using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Checks.Dns;

/// <summary>Outcome class of a DNS query, as authentication checks need to tell them apart.</summary>
public enum DnsStatus
{
    /// <summary>Records found.</summary>
    Ok,

    /// <summary>The name does not exist (NXDOMAIN).</summary>
    NxDomain,

    /// <summary>The name exists but has no records of that type.</summary>
    NoData,

    /// <summary>Timeout or SERVFAIL: a temperror in RFC 8601 terms.</summary>
    TempError,
}

/// <summary>An answer: status and records.</summary>
public sealed record DnsAnswer<T>(DnsStatus Status, IReadOnlyList<T> Records)
{
    /// <summary>An answer of status <paramref name="status"/> with no records.</summary>
    public static DnsAnswer<T> Empty(DnsStatus status) => new(status, Array.Empty<T>());
}

/// <summary>The DNS seam: every check asks DNS through this, so unit tests use a dictionary and integration tests a local server.</summary>
public interface IDnsResolver
{
    /// <summary>TXT records of <paramref name="name"/>, each record's strings joined without separator (RFC 6376 §3.6.2.2, RFC 7208 §3.3).</summary>
    Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken);

    /// <summary>A and AAAA records of <paramref name="name"/>.</summary>
    Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken);

    /// <summary>PTR names of <paramref name="address"/>.</summary>
    Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken);

    /// <summary>A records (<see cref="AddressFamily.InterNetwork"/>) or AAAA records (<see cref="AddressFamily.InterNetworkV6"/>) of <paramref name="name"/>.</summary>
    /// <remarks>
    /// SPF asks for exactly one type (RFC 7208 §5.3: A for an IPv4 client, AAAA for IPv6), and a void lookup is counted
    /// per query (§4.6.4), so "only AAAA exists" must be NoData for an A query. The default filters
    /// <see cref="AddressesAsync(string, CancellationToken)"/>; real resolvers override it to send one query.
    /// </remarks>
    async Task<DnsAnswer<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken)
    {
        DnsAnswer<IPAddress> all = await AddressesAsync(name, cancellationToken).ConfigureAwait(false);
        if (all.Status != DnsStatus.Ok)
        {
            return all;
        }
        IPAddress[] matching = all.Records.Where(a => a.AddressFamily == family).ToArray();
        return matching.Length == 0 ? DnsAnswer<IPAddress>.Empty(DnsStatus.NoData) : new DnsAnswer<IPAddress>(DnsStatus.Ok, matching);
    }

    /// <summary>MX records of <paramref name="name"/> (SPF's <c>mx</c> mechanism, RFC 7208 §5.4).</summary>
    /// <remarks>The default says TempError so that a resolver without MX support never makes SPF fail a message.</remarks>
    Task<DnsAnswer<MxRecord>> MxAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(DnsAnswer<MxRecord>.Empty(DnsStatus.TempError));
}

/// <summary>One MX record: preference and exchange host name (without the trailing dot).</summary>
public sealed record MxRecord(int Preference, string Exchange);
