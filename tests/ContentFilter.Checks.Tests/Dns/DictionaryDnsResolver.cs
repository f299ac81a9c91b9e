using System.Net;
using System.Net.Sockets;
using ContentFilter.Checks.Dns;

namespace ContentFilter.Checks.Tests.Dns;

/// <summary>An in-process zone for unit tests: records by name and type, <c>TIMEOUT</c> markers, CNAME chains.</summary>
/// <remarks>
/// Follows the openspf test-suite driver's semantics: a TIMEOUT entry makes a query time out unless a record of the
/// queried type was listed before it; a name that is listed but has no record of the type is NODATA, an unlisted
/// name NXDOMAIN. Every query is counted so tests can assert limits.
/// </remarks>
public sealed class DictionaryDnsResolver : IDnsResolver
{
    private readonly Dictionary<string, List<(string Type, object? Value)>> _zone = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Queries asked, as <c>TYPE name</c>.</summary>
    public List<string> Queries { get; } = new();

    public DictionaryDnsResolver Add(string name, string type, object? value)
    {
        name = name.TrimEnd('.');
        if (!_zone.TryGetValue(name, out List<(string, object?)>? list))
        {
            _zone[name] = list = new();
        }
        list.Add((type.ToUpperInvariant(), value));
        return this;
    }

    public DictionaryDnsResolver Txt(string name, string value) => Add(name, "TXT", value);

    public DictionaryDnsResolver A(string name, string address) => Add(name, IPAddress.Parse(address).AddressFamily == AddressFamily.InterNetwork ? "A" : "AAAA", IPAddress.Parse(address));

    /// <summary>Makes every query for <paramref name="name"/> time out.</summary>
    public DictionaryDnsResolver Timeout(string name) => Add(name, "TIMEOUT", null);

    /// <summary>Declares the name (so it is NODATA rather than NXDOMAIN for absent types).</summary>
    public DictionaryDnsResolver Exists(string name)
    {
        name = name.TrimEnd('.');
        if (!_zone.ContainsKey(name))
        {
            _zone[name] = new();
        }
        return this;
    }

    public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Lookup<string>(name, "TXT", v => (string)v));

    public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken)
    {
        DnsAnswer<IPAddress> a = Lookup<IPAddress>(name, "A", v => (IPAddress)v);
        DnsAnswer<IPAddress> aaaa = Lookup<IPAddress>(name, "AAAA", v => (IPAddress)v);
        if (a.Status == DnsStatus.TempError || aaaa.Status == DnsStatus.TempError)
        {
            return Task.FromResult(DnsAnswer<IPAddress>.Empty(DnsStatus.TempError));
        }
        var all = a.Records.Concat(aaaa.Records).ToArray();
        return Task.FromResult(all.Length > 0 ? new DnsAnswer<IPAddress>(DnsStatus.Ok, all) : a);
    }

    public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken) =>
        Task.FromResult(Lookup<IPAddress>(name, family == AddressFamily.InterNetwork ? "A" : "AAAA", v => (IPAddress)v));

    public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        Task.FromResult(Lookup<string>(DnsClientResolver.ArpaName(address), "PTR", v => (string)v));

    public Task<DnsAnswer<MxRecord>> MxAsync(string name, CancellationToken cancellationToken) =>
        Task.FromResult(Lookup<MxRecord>(name, "MX", v => (MxRecord)v));

    private DnsAnswer<T> Lookup<T>(string name, string type, Func<object, T> convert)
    {
        Queries.Add($"{type} {name}");
        name = name.TrimEnd('.');
        for (int depth = 0; depth < 10; depth++)
        {
            if (!_zone.TryGetValue(name, out List<(string Type, object? Value)>? records))
            {
                return DnsAnswer<T>.Empty(DnsStatus.NxDomain);
            }
            var found = new List<T>();
            string? cname = null;
            foreach ((string t, object? v) in records)
            {
                if (t == "TIMEOUT")
                {
                    if (found.Count == 0)
                    {
                        return DnsAnswer<T>.Empty(DnsStatus.TempError);
                    }
                    continue;
                }
                if (t == type)
                {
                    found.Add(convert(v!));
                }
                else if (t == "CNAME")
                {
                    cname ??= ((string)v!).TrimEnd('.');
                }
            }
            if (found.Count > 0)
            {
                return new DnsAnswer<T>(DnsStatus.Ok, found);
            }
            if (cname is null)
            {
                return DnsAnswer<T>.Empty(DnsStatus.NoData);
            }
            name = cname;
        }
        // A CNAME loop: resolvers answer SERVFAIL.
        return DnsAnswer<T>.Empty(DnsStatus.TempError);
    }
}
