using ContentFilter.Checks.Dns;

namespace ContentFilter.Checks.Dkim;

/// <summary>Fetches DKIM key records over <see cref="IDnsResolver"/> (RFC 6376 §3.6.2).</summary>
/// <remarks>The narrow seam for DNS (STYLE.md example 8): unit tests pass a dictionary resolver.</remarks>
public sealed class DkimKeyLookup
{
    private readonly IDnsResolver _dns;

    /// <summary>Creates the lookup.</summary>
    public DkimKeyLookup(IDnsResolver dns) => _dns = dns;

    /// <summary>Looks up <c>selector._domainkey.domain</c>.</summary>
    /// <returns>The status, the key when found, and the reason otherwise.</returns>
    public async Task<(DkimKeyLookupStatus Status, DkimPublicKey? Key, string? Error)> LookupAsync(string selector, string domain, CancellationToken cancellationToken)
    {
        string name = $"{selector}._domainkey.{domain}";
        DnsAnswer<string> answer;
        try
        {
            answer = await _dns.TxtAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (DkimKeyLookupStatus.TempError, null, "key query timed out");
        }
        switch (answer.Status)
        {
            case DnsStatus.TempError:
                return (DkimKeyLookupStatus.TempError, null, "key query failed");
            case DnsStatus.NxDomain:
            case DnsStatus.NoData:
                return (DkimKeyLookupStatus.NoKey, null, "no key for signature");
        }
        if (answer.Records.Count == 0)
        {
            return (DkimKeyLookupStatus.NoKey, null, "no key for signature");
        }
        string? firstError = null;
        foreach (string record in answer.Records)
        {
            // Several TXT records at the key name: use the first that parses (§3.6.2.2 leaves this open).
            if (DkimPublicKey.TryParse(record, out DkimPublicKey? key, out string? error))
            {
                return (DkimKeyLookupStatus.Found, key, null);
            }
            firstError ??= error;
        }
        return (DkimKeyLookupStatus.Invalid, null, firstError);
    }
}
