using System.Net;
using ContentFilter.Checks.Dns;

namespace ContentFilter.Testing.Daemons;

/// <summary>An in-process <see cref="IDnsResolver"/> over dictionaries, for unit tests of DKIM, SPF, DMARC and ARC.</summary>
/// <remarks>Names are case-insensitive and a trailing dot is ignored. A name not listed is NXDOMAIN; a name listed in <see cref="Failing"/> answers TempError.</remarks>
public sealed class DictionaryDnsResolver : IDnsResolver
{
    private readonly Dictionary<string, List<string>> _txt = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, List<IPAddress>> _addresses = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, List<string>> _ptr = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Names whose queries fail temporarily (timeout or SERVFAIL).</summary>
    public HashSet<string> Failing { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every name queried, in order (to prove what a check asked).</summary>
    public List<string> Queries { get; } = new();

    /// <summary>Adds a TXT record (already joined from its strings).</summary>
    public DictionaryDnsResolver AddTxt(string name, string value)
    {
        Get(_txt, name).Add(value);
        return this;
    }

    /// <summary>Adds an A or AAAA record.</summary>
    public DictionaryDnsResolver AddAddress(string name, IPAddress address)
    {
        Get(_addresses, name).Add(address);
        return this;
    }

    /// <summary>Adds a PTR record for <paramref name="address"/>.</summary>
    public DictionaryDnsResolver AddPtr(IPAddress address, string name)
    {
        Get(_ptr, address.ToString()).Add(name);
        return this;
    }

    /// <summary>Loads a <c>name TAB value</c> file (the test suites' records.tsv); lines starting with # are comments.</summary>
    public static DictionaryDnsResolver FromTsv(string path)
    {
        var resolver = new DictionaryDnsResolver();
        foreach (string line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            int tab = line.IndexOf('\t');
            if (tab > 0)
            {
                resolver.AddTxt(line[..tab], line[(tab + 1)..]);
            }
        }
        return resolver;
    }

    /// <inheritdoc />
    public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken) => Task.FromResult(Answer(_txt, name));

    /// <inheritdoc />
    public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken) => Task.FromResult(Answer(_addresses, name));

    /// <inheritdoc />
    public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) => Task.FromResult(Answer(_ptr, address.ToString()));

    private DnsAnswer<T> Answer<T>(Dictionary<string, List<T>> map, string name)
    {
        name = name.TrimEnd('.');
        lock (Queries)
        {
            Queries.Add(name);
        }
        if (Failing.Contains(name))
        {
            return DnsAnswer<T>.Empty(DnsStatus.TempError);
        }
        if (map.TryGetValue(name, out List<T>? records) && records.Count > 0)
        {
            return new DnsAnswer<T>(DnsStatus.Ok, records.ToList());
        }
        bool exists = _txt.ContainsKey(name) || _addresses.ContainsKey(name) || _ptr.ContainsKey(name);
        return DnsAnswer<T>.Empty(exists ? DnsStatus.NoData : DnsStatus.NxDomain);
    }

    private static List<T> Get<T>(Dictionary<string, List<T>> map, string name)
    {
        name = name.TrimEnd('.');
        if (!map.TryGetValue(name, out List<T>? list))
        {
            map[name] = list = new List<T>();
        }
        return list;
    }
}
