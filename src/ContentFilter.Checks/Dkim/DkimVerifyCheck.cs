using ContentFilter.Checks.Dns;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Dkim;

/// <summary>The <c>dkim</c> check: verifies every DKIM signature of inbound mail (up to a limit) and reports each in A-R terms.</summary>
/// <remarks>
/// One <see cref="AuthMethodResult"/> per signature with <c>header.d</c>, <c>header.i</c>, <c>header.s</c>,
/// <c>header.a</c> and the first 8 characters of <c>header.b</c> (RFC 6008, so two signatures of one domain can be
/// told apart), or a single <c>dkim=none</c> for unsigned mail. DNS trouble is a temperror result, not a failed
/// check: the message is still delivered, with the result recorded.
/// </remarks>
public sealed partial class DkimVerifyCheck : ICheck
{
    private readonly DkimOptions _options;
    private readonly DkimVerifier _verifier;
    private readonly ILogger _logger;

    /// <summary>Creates the check.</summary>
    public DkimVerifyCheck(DkimOptions options, IDnsResolver dns, TimeProvider time, ILogger<DkimVerifyCheck> logger)
    {
        _options = options;
        _verifier = new DkimVerifier(new DkimKeyLookup(dns), options, time);
        _logger = logger;
    }

    /// <inheritdoc />
    public string Name => "dkim";

    /// <inheritdoc />
    public async ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        if (!_options.Verify)
        {
            return CheckResult.Skip(Name, "verification disabled");
        }
        if (context.Headers.Truncated && context.Headers.Count(DkimVerifier.FieldName) > 0)
        {
            // Fields past the parse cap are unknown, so the bottom-up field selection of §5.4.2 cannot be trusted.
            return new AuthResult
            {
                Check = Name,
                Status = CheckStatus.Hit,
                Detail = "header section too large to verify",
                Results = [new AuthMethodResult("dkim", "neutral", "header section too large to verify", [])],
            };
        }
        IReadOnlyList<DkimResult> results;
        await using (Stream body = context.Spool.OpenRead())
        {
            body.Seek(context.Spool.BodyOffset, SeekOrigin.Begin);
            results = await _verifier.VerifyAsync(context.Headers.Fields, body, cancellationToken).ConfigureAwait(false);
        }
        if (results.Count == 0)
        {
            return new AuthResult
            {
                Check = Name,
                Status = CheckStatus.Ok,
                Detail = "no signature",
                Results = [new AuthMethodResult("dkim", "none", null, [])],
            };
        }
        var list = new List<AuthMethodResult>(results.Count);
        foreach (DkimResult r in results)
        {
            list.Add(ToAuthMethodResult(r));
            Log.Verified(_logger, context.MailId, r.Signature?.Domain ?? r.RawDomain ?? "-", r.Signature?.Selector ?? "-", r.Result, r.Reason ?? string.Empty);
        }
        return new AuthResult
        {
            Check = Name,
            Status = results.All(r => r.Passed) ? CheckStatus.Ok : CheckStatus.Hit,
            Detail = string.Join(", ", results.Select(r => $"{r.Signature?.Domain ?? r.RawDomain ?? "?"}={r.Result}")),
            Results = list,
        };
    }

    /// <summary>Converts one signature result into an A-R resinfo.</summary>
    public static AuthMethodResult ToAuthMethodResult(DkimResult r)
    {
        var props = new List<KeyValuePair<string, string>>();
        if (r.Signature is DkimSignatureFields s)
        {
            props.Add(new("header.d", s.Domain));
            props.Add(new("header.i", s.Identity));
            props.Add(new("header.s", s.Selector));
            props.Add(new("header.a", s.AlgorithmName));
            props.Add(new("header.b", s.SignatureBase64.Length > 8 ? s.SignatureBase64[..8] : s.SignatureBase64));
        }
        else if (!string.IsNullOrEmpty(r.RawDomain))
        {
            props.Add(new("header.d", r.RawDomain));
        }
        return new AuthMethodResult("dkim", r.Result, r.Reason, props);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5100, Level = LogLevel.Debug, Message = "{MailId} dkim d={Domain} s={Selector}: {Result} {Reason}")]
        public static partial void Verified(ILogger logger, string mailId, string domain, string selector, string result, string reason);
    }
}
