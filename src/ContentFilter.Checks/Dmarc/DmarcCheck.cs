using System.Globalization;
using ContentFilter.Checks.Dns;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Protocols.Mime;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace ContentFilter.Checks.Dmarc;

/// <summary>DMARC for inbound mail (RFC 7489): the From domain's policy against the SPF and DKIM results.</summary>
/// <remarks>
/// Runs after <c>spf</c> and <c>dkim</c> and reads their <see cref="AuthResult"/>s from the context: a DKIM pass
/// carries <c>header.d</c>, an SPF pass <c>smtp.mailfrom</c> (or <c>smtp.helo</c>). The result goes into the
/// A-R header; <see cref="AuthResult.RequestedPolicy"/> carries the policy to apply to a failing message after
/// <c>pct</c> sampling, and <c>VerdictPolicy</c> enforces it only when configured to. A message whose author is
/// ambiguous (zero or several From fields or mailboxes) is a permerror: such a message could otherwise show the
/// reader one domain while DMARC checked another (§6.6.1).
/// </remarks>
public sealed partial class DmarcCheck : ICheck
{
    /// <summary>The check's name.</summary>
    public const string CheckName = "dmarc";

    private static readonly IdnMapping Idn = new() { AllowUnassigned = true };
    private readonly DmarcOptions _options;
    private readonly IDnsResolver _dns;
    private readonly OrganizationalDomain _org;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly ILogger _logger;

    /// <summary>Creates the check.</summary>
    /// <param name="options">Options.</param>
    /// <param name="dns">DNS seam.</param>
    /// <param name="org">Organisational-domain lookup (Public Suffix List).</param>
    /// <param name="time">Clock for the lookup timeout.</param>
    /// <param name="random">Source for <c>pct</c> sampling (<see cref="Random.Shared"/> in production; seeded or fixed in tests).</param>
    /// <param name="logger">Logger.</param>
    public DmarcCheck(DmarcOptions options, IDnsResolver dns, OrganizationalDomain org, TimeProvider time, Random random, ILogger<DmarcCheck> logger)
    {
        options.Validate();
        _options = options;
        _dns = dns;
        _org = org;
        _time = time;
        _random = random;
        _logger = logger;
    }

    /// <inheritdoc />
    public string Name => CheckName;

    /// <inheritdoc />
    public async ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        if (context.Direction != MessageDirection.Inbound)
        {
            return CheckResult.Skip(CheckName, "not inbound");
        }
        string? fromDomain = AuthorDomain(context.Headers, out string? problem);
        if (fromDomain is null)
        {
            return Result("permerror", problem, null, null, null);
        }

        string orgDomain = _org.Get(fromDomain);
        PolicyLookup lookup;
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(_options.TimeoutMs), _time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token))
        {
            try
            {
                lookup = await DiscoverPolicyAsync(fromDomain, orgDomain, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                lookup = new PolicyLookup(null, false, true);
            }
        }
        if (lookup.TempError)
        {
            return Result("temperror", "DNS error looking up the DMARC policy", fromDomain, null, null);
        }
        if (lookup.Record is null)
        {
            return Result("none", null, fromDomain, null, null);
        }

        DmarcRecord record = lookup.Record;
        IReadOnlyList<AuthMethodResult> auth = context.Results.OfType<AuthResult>().SelectMany(r => r.Results).ToList();
        string? dkimAligned = auth
            .Where(r => r.Method.Equals("dkim", StringComparison.OrdinalIgnoreCase) && r.Result.Equals("pass", StringComparison.OrdinalIgnoreCase))
            .Select(r => Property(r, "header.d"))
            .FirstOrDefault(d => d is not null && DmarcAlignment.IsAligned(fromDomain, d, record.StrictDkim, _org));
        string? spfAligned = auth
            .Where(r => r.Method.Equals("spf", StringComparison.OrdinalIgnoreCase) && r.Result.Equals("pass", StringComparison.OrdinalIgnoreCase))
            .Select(r => Property(r, "smtp.mailfrom") is { } mf ? Envelope.DomainOf(mf) is { Length: > 0 } d ? d : mf : Property(r, "smtp.helo"))
            .FirstOrDefault(d => d is not null && DmarcAlignment.IsAligned(fromDomain, d, record.StrictSpf, _org));

        bool pass = dkimAligned is not null || spfAligned is not null;
        string asked = lookup.AtOrganizationalDomain && !fromDomain.Equals(orgDomain, StringComparison.OrdinalIgnoreCase)
            ? record.SubdomainPolicy ?? record.Policy
            : record.Policy;
        string disposition = "none";
        if (!pass)
        {
            disposition = asked;
            if (record.Percent < 100 && _random.Next(100) >= record.Percent)
            {
                // Not sampled: the next policy down applies (§6.6.4).
                disposition = asked == "reject" ? "quarantine" : "none";
            }
        }
        string comment = $"p={record.Policy}" + (record.SubdomainPolicy is null ? string.Empty : $" sp={record.SubdomainPolicy}")
            + (record.Percent < 100 ? $" pct={record.Percent}" : string.Empty) + $" dis={disposition}";
        Log.Evaluated(_logger, context.MailId, pass ? "pass" : "fail", fromDomain, disposition);
        return Result(pass ? "pass" : "fail", null, fromDomain, comment, pass ? null : disposition);
    }

    /// <summary>The author domain: exactly one From field with exactly one mailbox (RFC 7489 §6.6.1), in A-label form.</summary>
    internal static string? AuthorDomain(MessageHeaders headers, out string? problem)
    {
        problem = null;
        List<HeaderField> from = headers.GetAll("From").ToList();
        if (from.Count != 1)
        {
            problem = from.Count == 0 ? "no From field" : "more than one From field";
            return null;
        }
        return AuthorDomain(from[0].Value, out problem);
    }

    /// <summary>The domain of the single mailbox in a From value, or null with the reason.</summary>
    internal static string? AuthorDomain(string fromValue, out string? problem)
    {
        problem = null;
        string? domain = null;
        if (InternetAddressList.TryParse(fromValue, out InternetAddressList? list))
        {
            if (list.Count == 1 && list[0] is MailboxAddress mailbox)
            {
                domain = mailbox.Domain;
            }
        }
        else
        {
            domain = LenientAddrSpecDomain(fromValue);
        }
        if (domain is null)
        {
            problem = "From does not hold exactly one mailbox";
            return null;
        }
        domain = domain.Trim().TrimEnd('.');
        if (domain.Length == 0 || domain.StartsWith('['))
        {
            problem = "From mailbox has no domain";
            return null;
        }
        if (domain.Any(c => c >= 0x80))
        {
            try
            {
                domain = Idn.GetAscii(domain);
            }
            catch (ArgumentException)
            {
                problem = "From domain is not a valid IDN";
                return null;
            }
        }
        return domain.ToLowerInvariant();
    }

    /// <summary>
    /// A common sloppy form, <c>"Name" user@domain</c> (a phrase before a bare addr-spec), that MimeKit refuses:
    /// with quoted strings and comments removed, exactly one address with one <c>@</c> must remain. Several
    /// addresses or any other leftover text still give null, so the author stays unambiguous.
    /// </summary>
    private static string? LenientAddrSpecDomain(string value)
    {
        var sb = new System.Text.StringBuilder(value.Length);
        bool quoted = false;
        int depth = 0;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '\\' && i + 1 < value.Length && (quoted || depth > 0))
            {
                i++;
                continue;
            }
            if (depth == 0 && c == '"')
            {
                quoted = !quoted;
                sb.Append(' ');
                continue;
            }
            if (!quoted && c == '(')
            {
                depth++;
                continue;
            }
            if (!quoted && c == ')' && depth > 0)
            {
                depth--;
                continue;
            }
            if (!quoted && depth == 0)
            {
                sb.Append(c);
            }
        }
        if (quoted || depth != 0)
        {
            return null;
        }
        string rest = sb.ToString().Trim();
        if (rest.StartsWith('<') && rest.EndsWith('>'))
        {
            rest = rest[1..^1];
        }
        int at = rest.IndexOf('@');
        if (at <= 0 || at != rest.LastIndexOf('@') || rest.Any(c => c <= ' ' || c is ',' or ';' or '<' or '>' or ':' or '"'))
        {
            return null;
        }
        return rest[(at + 1)..];
    }

    /// <summary>Policy discovery (§6.6.3): <c>_dmarc.</c> at the From domain, then at the organisational domain.</summary>
    private async Task<PolicyLookup> DiscoverPolicyAsync(string fromDomain, string orgDomain, CancellationToken ct)
    {
        (bool temp, bool found, DmarcRecord? record) = await LookupAsync(fromDomain, ct).ConfigureAwait(false);
        if (temp)
        {
            return new PolicyLookup(null, false, true);
        }
        if (found || fromDomain.Equals(orgDomain, StringComparison.OrdinalIgnoreCase))
        {
            return new PolicyLookup(record, false, false);
        }
        (temp, _, record) = await LookupAsync(orgDomain, ct).ConfigureAwait(false);
        return new PolicyLookup(temp ? null : record, true, temp);
    }

    /// <summary>One TXT lookup; <c>found</c> means DMARC records existed there (several = no policy, and no fallback).</summary>
    private async Task<(bool TempError, bool Found, DmarcRecord? Record)> LookupAsync(string domain, CancellationToken ct)
    {
        DnsAnswer<string> txt = await _dns.TxtAsync("_dmarc." + domain, ct).ConfigureAwait(false);
        if (txt.Status == DnsStatus.TempError)
        {
            return (true, false, null);
        }
        List<string> records = txt.Records.Where(DmarcRecord.IsDmarcRecord).ToList();
        if (records.Count == 0)
        {
            return (false, false, null);
        }
        return (false, true, records.Count == 1 ? DmarcRecord.Parse(records[0]) : null);
    }

    private static string? Property(AuthMethodResult r, string name) =>
        r.Properties.FirstOrDefault(p => p.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    private static AuthResult Result(string result, string? reason, string? fromDomain, string? comment, string? requestedPolicy) => new()
    {
        Check = CheckName,
        Status = result is "fail" or "permerror" ? CheckStatus.Hit : CheckStatus.Ok,
        Detail = $"dmarc={result}" + (fromDomain is null ? string.Empty : $" {fromDomain}") + (comment is null ? string.Empty : $" ({comment})") + (reason is null ? string.Empty : $": {reason}"),
        Results = new[]
        {
            new AuthMethodResult("dmarc", result, reason, fromDomain is null ? Array.Empty<KeyValuePair<string, string>>() : new[] { new KeyValuePair<string, string>("header.from", fromDomain) })
            {
                Comment = comment,
            },
        },
        RequestedPolicy = requestedPolicy,
    };

    private sealed record PolicyLookup(DmarcRecord? Record, bool AtOrganizationalDomain, bool TempError);

    private static partial class Log
    {
        [LoggerMessage(EventId = 6311, Level = LogLevel.Debug, Message = "{MailId}: dmarc={Result} header.from={Domain} disposition={Disposition}")]
        public static partial void Evaluated(ILogger logger, string mailId, string result, string domain, string disposition);
    }
}
