using System.Net;
using ContentFilter.Checks.Dns;
using DnsClient;
using DnsClient.Protocol;

namespace ContentFilter.Testing.Daemons;

/// <summary>A minimal real-DNS <see cref="IDnsResolver"/> over DnsClient, pointed at one server (a <see cref="DnsmasqServer"/>), for tests until the production resolver is merged.</summary>
public sealed class DnsClientTestResolver : IDnsResolver
{
    private readonly LookupClient _client;

    /// <summary>Creates a resolver asking only <paramref name="server"/>:<paramref name="port"/>, no cache.</summary>
    public DnsClientTestResolver(IPAddress server, int port)
    {
        _client = new LookupClient(new LookupClientOptions(new NameServer(server, port))
        {
            UseCache = false,
            Retries = 1,
            Timeout = TimeSpan.FromSeconds(2),
            ThrowDnsErrors = false,
            ContinueOnDnsError = false,
            UseTcpFallback = true,
        });
    }

    /// <inheritdoc />
    public async Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken)
    {
        IDnsQueryResponse r;
        try
        {
            r = await _client.QueryAsync(name, QueryType.TXT, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        }
        catch (DnsResponseException)
        {
            return DnsAnswer<string>.Empty(DnsStatus.TempError);
        }
        if (r.HasError)
        {
            return DnsAnswer<string>.Empty(r.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain ? DnsStatus.NxDomain : DnsStatus.TempError);
        }
        var records = r.Answers.TxtRecords().Select(t => string.Concat(t.Text)).ToList();
        return records.Count == 0 ? DnsAnswer<string>.Empty(DnsStatus.NoData) : new DnsAnswer<string>(DnsStatus.Ok, records);
    }

    /// <inheritdoc />
    public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

    /// <inheritdoc />
    public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) => throw new NotSupportedException();
}
