using System.Net;

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
}
