using System.Net;
using ContentFilter.Checks.Dns;
using ContentFilter.Pipeline.Greylisting;

namespace ContentFilter.Checks.Greylisting;

/// <summary>Lets a client pass whose reverse DNS name is under a listed domain and resolves back to the client (FCrDNS).</summary>
/// <remarks>
/// Big senders retry from another address of a large pool, so the triplet rarely repeats and mail waits hours.
/// A PTR alone proves nothing (whoever owns the address writes it); the forward lookup of that name must contain
/// the client address too, and only the domain's owner controls that. At most
/// <see cref="MaxNames"/> PTR names are tried, and all lookups together end within the timeout given: past it the
/// client is "not exempt" (greylisted as usual), never a door that answers nothing.
/// </remarks>
public sealed class FcrdnsGreylistExemption : IGreylistExemption
{
    /// <summary>PTR names examined per client.</summary>
    public const int MaxNames = 5;

    private readonly IDnsResolver _dns;
    private readonly string[] _domains;
    private readonly TimeProvider _time;
    private readonly TimeSpan? _timeout;

    /// <summary>Creates the exemption for names under <paramref name="domains"/>.</summary>
    /// <param name="dns">The service's resolver.</param>
    /// <param name="domains">Domains whose forward-confirmed names pass (a name matches the domain itself or ends in <c>.domain</c>).</param>
    /// <param name="time">Clock for <paramref name="timeout"/>; default the system clock.</param>
    /// <param name="timeout">
    /// Bound for the PTR and forward lookups together; none when null (only the caller's token). The host passes half
    /// the policy door's decision timeout, so that slow DNS ends as "not exempt" rather than as no answer at all.
    /// </param>
    public FcrdnsGreylistExemption(IDnsResolver dns, IEnumerable<string> domains, TimeProvider? time = null, TimeSpan? timeout = null)
    {
        _dns = dns;
        _domains = domains.Select(d => d.Trim().TrimEnd('.').ToLowerInvariant()).Where(d => d.Length > 0).ToArray();
        _time = time ?? TimeProvider.System;
        _timeout = timeout;
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
        if (_timeout is not { } limit)
        {
            return await IsForwardConfirmedAsync(request, cancellationToken).ConfigureAwait(false);
        }
        using var timeout = new CancellationTokenSource(limit, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await IsForwardConfirmedAsync(request, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task<bool> IsForwardConfirmedAsync(GreylistRequest request, CancellationToken cancellationToken)
    {
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
