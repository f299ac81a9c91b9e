using System.Net;
using System.Net.Sockets;
using ContentFilter.Checks.Dns;

namespace ContentFilter.Checks.Spf;

/// <summary>check_host() of RFC 7208 over the <see cref="IDnsResolver"/> seam.</summary>
/// <remarks>
/// Written against the RFC rather than adapting a library, so that it asks DNS only through our seam (one cache,
/// one timeout policy, dictionary resolvers in tests) and is checked against the published RFC 7208 test suite.
/// The lookup and void-lookup limits (§4.6.4) are shared by the whole evaluation, includes and redirects too, so a
/// hostile record cannot fan one message out into many queries.
/// </remarks>
public sealed class SpfEvaluator
{
    private readonly IDnsResolver _dns;
    private readonly SpfLimits _limits;
    private readonly TimeProvider _time;
    private readonly string _receiver;

    /// <summary>Creates the evaluator.</summary>
    /// <param name="dns">DNS seam.</param>
    /// <param name="limits">Processing limits.</param>
    /// <param name="time">Clock for the <c>%{t}</c> macro.</param>
    /// <param name="receiver">Our host name for the <c>%{r}</c> macro.</param>
    public SpfEvaluator(IDnsResolver dns, SpfLimits limits, TimeProvider time, string receiver)
    {
        _dns = dns;
        _limits = limits;
        _time = time;
        _receiver = string.IsNullOrEmpty(receiver) ? "unknown" : receiver;
    }

    /// <summary>Evaluates check_host(<paramref name="ip"/>, <paramref name="domain"/>, <paramref name="sender"/>) (RFC 7208 §4).</summary>
    /// <param name="ip">The SMTP client's address.</param>
    /// <param name="domain">The domain to check: the MAIL FROM domain, or the HELO name.</param>
    /// <param name="sender">MAIL FROM (or <c>postmaster@</c> + HELO for the null sender); without local-part <c>postmaster</c> is used (§4.3).</param>
    /// <param name="helo">The HELO/EHLO name for the <c>%{h}</c> macro.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    public async Task<SpfEvaluation> CheckHostAsync(IPAddress ip, string domain, string sender, string helo, CancellationToken cancellationToken)
    {
        if (ip.IsIPv4MappedToIPv6)
        {
            ip = ip.MapToIPv4();
        }
        int at = sender.LastIndexOf('@');
        string local = at <= 0 ? "postmaster" : sender[..at];
        string senderDomain = at < 0 ? domain : sender[(at + 1)..];
        var state = new State();
        var ctx = new SpfMacroContext
        {
            Ip = ip,
            Sender = local + "@" + senderDomain,
            LocalPart = local,
            SenderDomain = senderDomain,
            Domain = domain,
            Helo = helo,
            Receiver = _receiver,
            Timestamp = _time.GetUtcNow().ToUnixTimeSeconds(),
            ValidatedName = (d, ct) => ValidatedNameAsync(ip, d, ct),
        };
        return await CheckHostCoreAsync(domain, ctx, state, cancellationToken).ConfigureAwait(false);
    }

    private async Task<SpfEvaluation> CheckHostCoreAsync(string domain, SpfMacroContext ctx, State state, CancellationToken ct)
    {
        domain = TrimDot(domain);
        if (!IsValidDomain(domain))
        {
            return new SpfEvaluation(SpfResult.None, Problem: "not a valid domain name");
        }
        DnsAnswer<string> txt = await _dns.TxtAsync(domain, ct).ConfigureAwait(false);
        if (txt.Status == DnsStatus.TempError)
        {
            return new SpfEvaluation(SpfResult.TempError, Problem: $"DNS error looking up {domain}");
        }
        List<string> records = txt.Status == DnsStatus.Ok ? txt.Records.Where(SpfRecord.IsSpfRecord).ToList() : new List<string>();
        if (records.Count == 0)
        {
            return new SpfEvaluation(SpfResult.None, Problem: $"no SPF record at {domain}");
        }
        if (records.Count > 1)
        {
            return new SpfEvaluation(SpfResult.PermError, Problem: $"more than one SPF record at {domain}");
        }
        SpfRecord? record = SpfRecord.Parse(records[0], out string? error);
        if (record is null)
        {
            return new SpfEvaluation(SpfResult.PermError, Problem: $"{domain}: {error}");
        }
        ctx = ctx.WithDomain(domain);

        foreach (SpfDirective d in record.Directives)
        {
            (bool match, SpfEvaluation? stop) = await MatchAsync(d, ctx, state, ct).ConfigureAwait(false);
            if (stop is not null)
            {
                return stop;
            }
            if (!match)
            {
                continue;
            }
            SpfResult result = d.Qualifier switch
            {
                '-' => SpfResult.Fail,
                '~' => SpfResult.SoftFail,
                '?' => SpfResult.Neutral,
                _ => SpfResult.Pass,
            };
            string? explanation = result == SpfResult.Fail ? await ExplainAsync(record, ctx, ct).ConfigureAwait(false) : null;
            return new SpfEvaluation(result, explanation, d.Text);
        }

        if (record.Redirect is not null)
        {
            if (++state.DnsMechanisms > _limits.MaxDnsMechanisms)
            {
                return new SpfEvaluation(SpfResult.PermError, Problem: "too many DNS lookups");
            }
            string target = Truncate(await SpfMacro.ExpandAsync(record.Redirect, ctx, false, ct).ConfigureAwait(false));
            SpfEvaluation r = await CheckHostCoreAsync(target, ctx, state, ct).ConfigureAwait(false);
            return r.Result == SpfResult.None
                ? new SpfEvaluation(SpfResult.PermError, Problem: $"redirect to {target}: {r.Problem}")
                : r;
        }
        return new SpfEvaluation(SpfResult.Neutral, Mechanism: "default");
    }

    private async Task<(bool Match, SpfEvaluation? Stop)> MatchAsync(SpfDirective d, SpfMacroContext ctx, State state, CancellationToken ct)
    {
        IPAddress ip = ctx.Ip;
        bool v4 = ip.AddressFamily == AddressFamily.InterNetwork;
        switch (d.Mechanism)
        {
            case SpfMechanism.All:
                return (true, null);
            case SpfMechanism.Ip4:
            case SpfMechanism.Ip6:
                return (InNetwork(ip, d.Network!, v4 ? d.Cidr4 : d.Cidr6), null);
        }

        if (++state.DnsMechanisms > _limits.MaxDnsMechanisms)
        {
            return (false, new SpfEvaluation(SpfResult.PermError, Problem: "too many DNS lookups"));
        }
        string target = d.DomainSpec is null
            ? ctx.Domain
            : Truncate(await SpfMacro.ExpandAsync(d.DomainSpec, ctx, false, ct).ConfigureAwait(false));

        switch (d.Mechanism)
        {
            case SpfMechanism.Include:
                {
                    SpfEvaluation r = await CheckHostCoreAsync(target, ctx, state, ct).ConfigureAwait(false);
                    return r.Result switch
                    {
                        SpfResult.Pass => (true, null),
                        SpfResult.Fail or SpfResult.SoftFail or SpfResult.Neutral => (false, null),
                        SpfResult.TempError => (false, r),
                        _ => (false, new SpfEvaluation(SpfResult.PermError, Problem: $"include:{target}: {r.Problem}")),
                    };
                }
            case SpfMechanism.A:
                {
                    if (!IsValidDomain(target))
                    {
                        return (false, null);
                    }
                    DnsAnswer<IPAddress> a = await _dns.AddressesAsync(target, ip.AddressFamily, ct).ConfigureAwait(false);
                    SpfEvaluation? stop = CheckAnswer(a.Status, target, state);
                    if (stop is not null || a.Status != DnsStatus.Ok)
                    {
                        return (false, stop);
                    }
                    return (a.Records.Any(x => InNetwork(ip, x, v4 ? d.Cidr4 : d.Cidr6)), null);
                }
            case SpfMechanism.Mx:
                {
                    if (!IsValidDomain(target))
                    {
                        return (false, null);
                    }
                    DnsAnswer<MxRecord> mx = await _dns.MxAsync(target, ct).ConfigureAwait(false);
                    SpfEvaluation? stop = CheckAnswer(mx.Status, target, state);
                    if (stop is not null || mx.Status != DnsStatus.Ok)
                    {
                        return (false, stop);
                    }
                    if (mx.Records.Count > _limits.MaxMxNames)
                    {
                        return (false, new SpfEvaluation(SpfResult.PermError, Problem: $"more than {_limits.MaxMxNames} MX records at {target}"));
                    }
                    foreach (MxRecord m in mx.Records)
                    {
                        string host = TrimDot(m.Exchange);
                        if (!IsValidDomain(host))
                        {
                            continue;
                        }
                        DnsAnswer<IPAddress> a = await _dns.AddressesAsync(host, ip.AddressFamily, ct).ConfigureAwait(false);
                        if (a.Status == DnsStatus.TempError)
                        {
                            return (false, new SpfEvaluation(SpfResult.TempError, Problem: $"DNS error looking up {host}"));
                        }
                        if (a.Records.Any(x => InNetwork(ip, x, v4 ? d.Cidr4 : d.Cidr6)))
                        {
                            return (true, null);
                        }
                    }
                    return (false, null);
                }
            case SpfMechanism.Ptr:
                {
                    DnsAnswer<string> ptr = await _dns.PtrAsync(ip, ct).ConfigureAwait(false);
                    if (ptr.Status is DnsStatus.NxDomain or DnsStatus.NoData)
                    {
                        SpfEvaluation? stop = CheckAnswer(ptr.Status, target, state);
                        return (false, stop);
                    }
                    if (ptr.Status != DnsStatus.Ok)
                    {
                        return (false, null);
                    }
                    foreach (string name in await ValidatedNamesAsync(ip, ptr.Records, ct).ConfigureAwait(false))
                    {
                        if (IsSameOrSubdomain(name, target))
                        {
                            return (true, null);
                        }
                    }
                    return (false, null);
                }
            default:
                {
                    if (!IsValidDomain(target))
                    {
                        return (false, null);
                    }
                    // exists: always an A query, whatever the client's address family (§5.7).
                    DnsAnswer<IPAddress> a = await _dns.AddressesAsync(target, AddressFamily.InterNetwork, ct).ConfigureAwait(false);
                    SpfEvaluation? stop = CheckAnswer(a.Status, target, state);
                    return (stop is null && a.Status == DnsStatus.Ok && a.Records.Count > 0, stop);
                }
        }
    }

    /// <summary>TempError stops with temperror; a void answer counts toward the void limit (§4.6.4).</summary>
    private SpfEvaluation? CheckAnswer(DnsStatus status, string name, State state)
    {
        if (status == DnsStatus.TempError)
        {
            return new SpfEvaluation(SpfResult.TempError, Problem: $"DNS error looking up {name}");
        }
        if (status is DnsStatus.NxDomain or DnsStatus.NoData && ++state.VoidLookups > _limits.MaxVoidLookups)
        {
            return new SpfEvaluation(SpfResult.PermError, Problem: "too many void DNS lookups");
        }
        return null;
    }

    /// <summary>The PTR names of <paramref name="ip"/> whose forward lookup leads back to it (§5.5), at most the limit examined.</summary>
    private async Task<List<string>> ValidatedNamesAsync(IPAddress ip, IReadOnlyList<string> names, CancellationToken ct)
    {
        var validated = new List<string>();
        foreach (string raw in names.Take(_limits.MaxPtrNames))
        {
            string name = TrimDot(raw);
            if (!IsValidDomain(name))
            {
                continue;
            }
            DnsAnswer<IPAddress> a = await _dns.AddressesAsync(name, ip.AddressFamily, ct).ConfigureAwait(false);
            if (a.Status == DnsStatus.Ok && a.Records.Any(x => x.Equals(ip) || (x.IsIPv4MappedToIPv6 && x.MapToIPv4().Equals(ip))))
            {
                validated.Add(name);
            }
        }
        return validated;
    }

    /// <summary>The <c>%{p}</c> value: a validated name equal to, else under, <paramref name="domain"/>, else any, else <c>unknown</c> (§7.3).</summary>
    private async Task<string> ValidatedNameAsync(IPAddress ip, string domain, CancellationToken ct)
    {
        DnsAnswer<string> ptr = await _dns.PtrAsync(ip, ct).ConfigureAwait(false);
        if (ptr.Status != DnsStatus.Ok)
        {
            return "unknown";
        }
        List<string> validated = await ValidatedNamesAsync(ip, ptr.Records, ct).ConfigureAwait(false);
        return validated.FirstOrDefault(n => n.Equals(domain, StringComparison.OrdinalIgnoreCase))
            ?? validated.FirstOrDefault(n => IsSameOrSubdomain(n, domain))
            ?? validated.FirstOrDefault()
            ?? "unknown";
    }

    private async Task<string?> ExplainAsync(SpfRecord record, SpfMacroContext ctx, CancellationToken ct)
    {
        if (record.Exp is null)
        {
            return null;
        }
        string name = Truncate(await SpfMacro.ExpandAsync(record.Exp, ctx, false, ct).ConfigureAwait(false));
        if (!IsValidDomain(name))
        {
            return null;
        }
        DnsAnswer<string> txt = await _dns.TxtAsync(name, ct).ConfigureAwait(false);
        if (txt.Status != DnsStatus.Ok || txt.Records.Count != 1 || !SpfMacro.IsValid(txt.Records[0], explanation: true))
        {
            return null;
        }
        string text = await SpfMacro.ExpandAsync(txt.Records[0], ctx, true, ct).ConfigureAwait(false);
        return text.All(c => c is >= ' ' and <= '~') ? text : null;
    }

    /// <summary>True when <paramref name="ip"/> lies in <paramref name="network"/>/<paramref name="prefix"/>; different families never match.</summary>
    internal static bool InNetwork(IPAddress ip, IPAddress network, int prefix)
    {
        if (network.IsIPv4MappedToIPv6)
        {
            network = network.MapToIPv4();
        }
        if (ip.AddressFamily != network.AddressFamily)
        {
            return false;
        }
        byte[] a = ip.GetAddressBytes();
        byte[] b = network.GetAddressBytes();
        int full = prefix / 8;
        for (int i = 0; i < full; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0)
        {
            return true;
        }
        int mask = 0xFF << (8 - rest) & 0xFF;
        return (a[full] & mask) == (b[full] & mask);
    }

    /// <summary>A name SPF may query: at least two labels, each 1–63 octets, 253 in all, no address literal (§4.3).</summary>
    internal static bool IsValidDomain(string domain)
    {
        if (domain.Length is 0 or > 253 || domain.StartsWith('['))
        {
            return false;
        }
        string[] labels = domain.Split('.');
        return labels.Length >= 2 && labels.All(l => l.Length is > 0 and <= 63);
    }

    /// <summary>Removes leading labels until the name fits in 253 octets (§7.3).</summary>
    private static string Truncate(string name)
    {
        name = TrimDot(name);
        while (name.Length > 253)
        {
            int dot = name.IndexOf('.');
            if (dot < 0)
            {
                break;
            }
            name = name[(dot + 1)..];
        }
        return name;
    }

    private static bool IsSameOrSubdomain(string name, string domain) =>
        name.Equals(domain, StringComparison.OrdinalIgnoreCase)
        || name.EndsWith("." + domain, StringComparison.OrdinalIgnoreCase);

    private static string TrimDot(string name) => name.EndsWith('.') ? name[..^1] : name;

    private sealed class State
    {
        public int DnsMechanisms;
        public int VoidLookups;
    }
}
