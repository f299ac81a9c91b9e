using System.Net;
using ContentFilter.Checks.Dns;
using ContentFilter.Pipeline.Greylisting;

namespace ContentFilter.Checks.Greylisting;

/// <summary>Lets a client pass whose reverse DNS name is under a listed domain and resolves back to the client (FCrDNS).</summary>
/// <remarks>
/// Big senders retry from another address of a large pool, so the triplet rarely repeats and mail waits hours.
/// A PTR alone proves nothing (whoever owns the address writes it); the forward lookup of that name must contain
/// the client address too, and only the domain's owner controls that. At most
/// <see cref="MaxNames"/> PTR names are tried.
/// </remarks>
public sealed class FcrdnsGreylistExemption : IGreylistExemption
{
    /// <summary>PTR names examined per client.</summary>
    public const int MaxNames = 5;

    private readonly IDnsResolver _dns;
    private readonly string[] _domains;

    /// <summary>Creates the exemption for names under <paramref name="domains"/>.</summary>
    public FcrdnsGreylistExemption(IDnsResolver dns, IEnumerable<string> domains)
    {
        _dns = dns;
        _domains = domains.Select(d => d.Trim().TrimEnd('.').ToLowerInvariant()).Where(d => d.Length > 0).ToArray();
    }

    /// <inheritdoc />
    public string Reason => "fcrdns whitelist";

    /// <inheritdoc />
    public async Task<bool> IsExemptAsync(GreylistRequest request, CancellationToken cancellationToken)
    {
        if (_domains.Length == 0)
        {
            return false;
        }
        IPAddress client = ClientNetwork.Canonical(request.ClientAddress);
        DnsAnswer<string> ptr = await _dns.PtrAsync(client, cancellationToken).ConfigureAwait(false);
        if (ptr.Status != DnsStatus.Ok)
        {
            return false;
        }
        foreach (string raw in ptr.Records.Take(MaxNames))
        {
            string name = raw.TrimEnd('.').ToLowerInvariant();
            if (!_domains.Any(d => name == d || name.EndsWith("." + d, StringComparison.Ordinal)))
            {
                continue;
            }
            DnsAnswer<IPAddress> forward = await _dns.AddressesAsync(name, cancellationToken).ConfigureAwait(false);
            if (forward.Status == DnsStatus.Ok && forward.Records.Any(a => ClientNetwork.Canonical(a).Equals(client)))
            {
                return true;
            }
        }
        return false;
    }
}
