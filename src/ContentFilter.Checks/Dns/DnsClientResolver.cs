using System.Globalization;
using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Dns;

/// <summary>The production <see cref="IDnsResolver"/>: DnsClient over the configured servers, with a bounded TTL cache.</summary>
/// <remarks>
/// NXDOMAIN, NODATA and "no usable answer" (timeout, SERVFAIL, REFUSED, network error) are told apart because SPF and
/// DMARC give different results for them (RFC 7208 §4.3 none, §4.6.4 void lookups, §2.6.6 temperror). DnsClient's
/// own cache is off: it has no size bound, and ours also caches negative answers by their SOA (RFC 2308 §5).
/// </remarks>
public sealed partial class DnsClientResolver : IDnsResolver
{
    private readonly LookupClient _client;
    private readonly DnsAnswerCache _cache;
    private readonly DnsOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the resolver.</summary>
    public DnsClientResolver(DnsOptions options, TimeProvider time, ILogger<DnsClientResolver> logger)
    {
        options.Validate();
        _options = options;
        _logger = logger;
        IReadOnlyList<IPEndPoint> servers = options.Servers.Count > 0
            ? options.Servers.Select(ParseServer).ToList()
            : ReadResolvConf(options.ResolvConfPath);
        Servers = servers;
        var clientOptions = new LookupClientOptions(servers.Select(s => new NameServer(s)).ToArray())
        {
            UseCache = false,
            Timeout = TimeSpan.FromMilliseconds(options.TimeoutMs),
            Retries = options.Retries,
            ThrowDnsErrors = false,
            ContinueOnDnsError = true,
            ContinueOnEmptyResponse = false,
            UseTcpFallback = true,
            UseRandomNameServer = false,
            Recursion = true,
        };
        _client = new LookupClient(clientOptions);
        _cache = new DnsAnswerCache(options.CacheSize, time);
    }

    /// <summary>The servers asked, in order.</summary>
    public IReadOnlyList<IPEndPoint> Servers { get; }

    /// <summary>Answers currently cached (for tests and metrics).</summary>
    public int CachedAnswers => _cache.Count;

    /// <inheritdoc />
    public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken) =>
        QueryAsync(name, QueryType.TXT, r => r is TxtRecord t ? string.Concat(t.Text) : null, cancellationToken);

    /// <inheritdoc />
    public async Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken)
    {
        DnsAnswer<IPAddress> a = await AddressesAsync(name, AddressFamily.InterNetwork, cancellationToken).ConfigureAwait(false);
        DnsAnswer<IPAddress> aaaa = await AddressesAsync(name, AddressFamily.InterNetworkV6, cancellationToken).ConfigureAwait(false);
        if (a.Status == DnsStatus.Ok || aaaa.Status == DnsStatus.Ok)
        {
            return new DnsAnswer<IPAddress>(DnsStatus.Ok, a.Records.Concat(aaaa.Records).ToArray());
        }
        if (a.Status == DnsStatus.TempError || aaaa.Status == DnsStatus.TempError)
        {
            return DnsAnswer<IPAddress>.Empty(DnsStatus.TempError);
        }
        return a.Status == DnsStatus.NxDomain ? a : aaaa;
    }

    /// <inheritdoc />
    public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, AddressFamily family, CancellationToken cancellationToken) => family switch
    {
        AddressFamily.InterNetwork => QueryAsync(name, QueryType.A, r => r is ARecord a ? a.Address : null, cancellationToken),
        AddressFamily.InterNetworkV6 => QueryAsync(name, QueryType.AAAA, r => r is AaaaRecord a ? a.Address : null, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "A or AAAA only"),
    };

    /// <inheritdoc />
    public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) =>
        QueryAsync(ArpaName(address), QueryType.PTR, r => r is PtrRecord p ? TrimDot(p.PtrDomainName.Value) : null, cancellationToken);

    /// <inheritdoc />
    public Task<DnsAnswer<MxRecord>> MxAsync(string name, CancellationToken cancellationToken) =>
        QueryAsync(name, QueryType.MX, r => r is DnsClient.Protocol.MxRecord m ? new MxRecord(m.Preference, TrimDot(m.Exchange.Value)) : null, cancellationToken);

    /// <summary>Parses <c>address[:port]</c> or <c>[v6]:port</c>; port 53 when none is given.</summary>
    public static IPEndPoint ParseServer(string server)
    {
        string s = server.Trim();
        if (IPAddress.TryParse(s, out IPAddress? bare))
        {
            return new IPEndPoint(bare, 53);
        }
        if (IPEndPoint.TryParse(s, out IPEndPoint? ep) && ep.Port != 0)
        {
            return ep;
        }
        throw new FormatException($"DNS server '{server}' is not address[:port]");
    }

    /// <summary>The <c>nameserver</c> addresses of a resolv.conf file; 127.0.0.1 when there are none (as the C library does).</summary>
    public static IReadOnlyList<IPEndPoint> ReadResolvConf(string path)
    {
        var servers = new List<IPEndPoint>();
        if (File.Exists(path))
        {
            foreach (string line in File.ReadLines(path))
            {
                string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && parts[0] == "nameserver")
                {
                    string addr = parts[1];
                    int zone = addr.IndexOf('%');
                    if (zone >= 0)
                    {
                        addr = addr[..zone];
                    }
                    if (IPAddress.TryParse(addr, out IPAddress? ip))
                    {
                        servers.Add(new IPEndPoint(ip, 53));
                    }
                }
            }
        }
        if (servers.Count == 0)
        {
            servers.Add(new IPEndPoint(IPAddress.Loopback, 53));
        }
        return servers;
    }

    /// <summary>The reverse-lookup name of an address (<c>4.3.2.1.in-addr.arpa</c>, nibbles under <c>ip6.arpa</c>).</summary>
    public static string ArpaName(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        byte[] bytes = address.GetAddressBytes();
        var parts = new List<string>();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            for (int i = bytes.Length - 1; i >= 0; i--)
            {
                parts.Add(bytes[i].ToString(CultureInfo.InvariantCulture));
            }
            parts.Add("in-addr.arpa");
        }
        else
        {
            for (int i = bytes.Length - 1; i >= 0; i--)
            {
                parts.Add((bytes[i] & 0xF).ToString("x", CultureInfo.InvariantCulture));
                parts.Add((bytes[i] >> 4).ToString("x", CultureInfo.InvariantCulture));
            }
            parts.Add("ip6.arpa");
        }
        return string.Join('.', parts);
    }

    private async Task<DnsAnswer<T>> QueryAsync<T>(string name, QueryType type, Func<DnsResourceRecord, T?> select, CancellationToken cancellationToken)
    {
        string key = TrimDot(name).ToLowerInvariant();
        if (key.Length == 0 || key.Length > 253 || key.Split('.').Any(l => l.Length is 0 or > 63))
        {
            // Not a name DNS can carry (RFC 1035 §2.3.4): nothing can exist there.
            return DnsAnswer<T>.Empty(DnsStatus.NxDomain);
        }
        if (_cache.TryGet(key, (int)type, out object? cached))
        {
            return (DnsAnswer<T>)cached!;
        }

        IDnsQueryResponse response;
        try
        {
            response = await _client.QueryAsync(key, type, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is DnsResponseException or SocketException or TimeoutException or IOException or OperationCanceledException)
        {
            Log.QueryFailed(_logger, key, type.ToString(), ex.Message);
            return DnsAnswer<T>.Empty(DnsStatus.TempError);
        }

        DnsAnswer<T> answer;
        TimeSpan ttl;
        switch (response.Header.ResponseCode)
        {
            case DnsHeaderResponseCode.NoError:
                var records = new List<T>();
                int minTtl = int.MaxValue;
                foreach (DnsResourceRecord r in response.Answers)
                {
                    T? value = select(r);
                    if (value is not null)
                    {
                        records.Add(value);
                        minTtl = Math.Min(minTtl, r.TimeToLive);
                    }
                }
                if (records.Count > 0)
                {
                    answer = new DnsAnswer<T>(DnsStatus.Ok, records);
                    ttl = TimeSpan.FromSeconds(Math.Min(minTtl, _options.MaxCacheTtlSeconds));
                }
                else
                {
                    answer = DnsAnswer<T>.Empty(DnsStatus.NoData);
                    ttl = NegativeTtl(response);
                }
                break;
            case DnsHeaderResponseCode.NotExistentDomain:
                answer = DnsAnswer<T>.Empty(DnsStatus.NxDomain);
                ttl = NegativeTtl(response);
                break;
            default:
                Log.QueryFailed(_logger, key, type.ToString(), response.Header.ResponseCode.ToString());
                return DnsAnswer<T>.Empty(DnsStatus.TempError);
        }
        _cache.Set(key, (int)type, answer, ttl);
        return answer;
    }

    private TimeSpan NegativeTtl(IDnsQueryResponse response)
    {
        SoaRecord? soa = response.Authorities.OfType<SoaRecord>().FirstOrDefault();
        long seconds = soa is null ? _options.NegativeCacheTtlSeconds : Math.Min(soa.TimeToLive, (long)soa.Minimum);
        return TimeSpan.FromSeconds(Math.Min(seconds, _options.MaxCacheTtlSeconds));
    }

    private static string TrimDot(string name) => name.EndsWith('.') ? name[..^1] : name;

    private static partial class Log
    {
        [LoggerMessage(EventId = 6101, Level = LogLevel.Debug, Message = "DNS query {Name} {Type} gave no usable answer: {Reason}")]
        public static partial void QueryFailed(ILogger logger, string name, string type, string reason);
    }
}
