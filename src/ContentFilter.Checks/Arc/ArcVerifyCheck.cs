using ContentFilter.Checks.Dkim;
using ContentFilter.Checks.Dns;
using ContentFilter.Pipeline.Checks;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Arc;

/// <summary>The <c>arc</c> check: validates the ARC chain of inbound mail and reports <c>arc=pass/fail/none</c> (RFC 8617 §4.4, RFC 8601).</summary>
/// <remarks>The result is also what <see cref="ArcSealer"/> writes as <c>cv=</c> when this host seals the message.</remarks>
public sealed partial class ArcVerifyCheck : ICheck
{
    private readonly ArcOptions _options;
    private readonly ArcVerifier _verifier;
    private readonly ILogger _logger;

    /// <summary>Creates the check.</summary>
    public ArcVerifyCheck(ArcOptions options, IDnsResolver dns, ILogger<ArcVerifyCheck> logger)
    {
        _options = options;
        _verifier = new ArcVerifier(new DkimKeyLookup(dns), options.MinimumKeyBits);
        _logger = logger;
    }

    /// <inheritdoc />
    public string Name => "arc";

    /// <inheritdoc />
    public async ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        if (!_options.Verify)
        {
            return CheckResult.Skip(Name, "verification disabled");
        }
        ArcValidation v;
        if (context.Headers.Truncated && ArcChain.HasArcFields(context.Headers.Fields))
        {
            v = new ArcValidation("fail", "header section too large to validate", 0, null);
        }
        else
        {
            await using Stream body = context.Spool.OpenRead();
            body.Seek(context.Spool.BodyOffset, SeekOrigin.Begin);
            v = await _verifier.VerifyAsync(context.Headers.Fields, body, cancellationToken).ConfigureAwait(false);
        }
        Log.Validated(_logger, context.MailId, v.Result, v.Instances, v.Reason ?? string.Empty);
        return new AuthResult
        {
            Check = Name,
            Status = v.Result == "fail" ? CheckStatus.Hit : CheckStatus.Ok,
            Detail = v.Reason is null ? $"arc={v.Result}" : $"arc={v.Result} ({v.Reason})",
            Results = [new AuthMethodResult("arc", v.Result, v.Reason, [])],
        };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5300, Level = LogLevel.Debug, Message = "{MailId} arc={Result} sets={Instances} {Reason}")]
        public static partial void Validated(ILogger logger, string mailId, string result, int instances, string reason);
    }
}
