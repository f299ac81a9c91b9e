using ContentFilter.Checks.Dkim;
using ContentFilter.Checks.Dns;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Mime;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Arc;

/// <summary>The <c>arc-seal</c> finisher: adds an ARC set to mail this host forwards (RFC 8617 §5.1).</summary>
/// <remarks>
/// Which mail: a message with an envelope recipient in a configured <see cref="ArcSealDomain.ForwardingDomains"/>
/// (a mailing list or alias domain). The AAR carries our own authentication results, cv= is the <c>arc</c> check's
/// result (validated here when that check did not run), and the AMS signs the final header view, including a
/// DKIM-Signature added by <c>dkim-sign</c> when that finisher runs first. A chain already at 50 sets is not
/// extended. A key that cannot be used fails the finisher (4xx), as for DKIM signing.
/// </remarks>
public sealed partial class ArcSealer : IMessageFinisher
{
    private readonly ArcOptions _options;
    private readonly string _authServId;
    private readonly ArcVerifier _verifier;
    private readonly DkimKeyStore _keys;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the sealer.</summary>
    /// <param name="options">ARC options.</param>
    /// <param name="authServId">Our authserv-id (the A-R one) when <see cref="ArcOptions.AuthServId"/> is not set.</param>
    /// <param name="dns">Resolver, for validating the chain when the arc check did not run.</param>
    /// <param name="time">Clock for t=.</param>
    /// <param name="logger">Logger.</param>
    public ArcSealer(ArcOptions options, string authServId, IDnsResolver dns, TimeProvider time, ILogger<ArcSealer> logger)
    {
        _options = options;
        _authServId = options.AuthServId ?? authServId;
        _verifier = new ArcVerifier(new DkimKeyLookup(dns), options.MinimumKeyBits);
        _keys = new DkimKeyStore(options.RequireSafeKeys);
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public string Name => "arc-seal";

    /// <summary>Loads every sealing key once so a bad one stops start-up with a clear message.</summary>
    public IReadOnlyList<string> ValidateKeys()
    {
        var errors = new List<string>();
        foreach (ArcSealDomain d in _options.Seal)
        {
            try
            {
                using DkimPrivateKey _ = DkimKeyStore.LoadChecked(d.KeyFile, _options.RequireSafeKeys);
            }
            catch (DkimKeyException e)
            {
                errors.Add($"ARC key for {d.Domain}: {e.Message}");
            }
        }
        return errors;
    }

    /// <inheritdoc />
    public async ValueTask<CheckResult?> FinishAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken)
    {
        ArcSealDomain? entry = _options.Seal.FirstOrDefault(d => context.Envelope.Recipients.Any(r => Matches(d, r.Address)));
        if (entry is null)
        {
            return null;
        }
        if (context.Headers.Truncated)
        {
            return CheckResult.Skip(Name, "header section too large to seal");
        }
        IReadOnlyList<HeaderField> fields = DkimSigner.FinalFields(context.Headers, verdict.Edits);
        if (!ArcChain.TryParse(fields, out ArcChain chain, out string? structure))
        {
            Log.NotSealed(_logger, context.MailId, structure ?? "broken chain");
            return CheckResult.Skip(Name, "not sealed: " + structure);
        }
        if (ArcSealBuilder.WhyNotSeal(chain) is string why)
        {
            Log.NotSealed(_logger, context.MailId, why);
            return CheckResult.Skip(Name, "not sealed: " + why);
        }

        DkimPrivateKey key;
        try
        {
            key = _keys.Get(entry.KeyFile);
        }
        catch (DkimKeyException e)
        {
            Log.KeyFailed(_logger, context.MailId, e.Message);
            return CheckResult.Failure(Name, e.Message);
        }

        string cv = await ChainValidationAsync(context, cancellationToken).ConfigureAwait(false);
        List<AuthMethodResult> results = context.Results.OfType<AuthResult>().SelectMany(a => a.Results).ToList();
        string payload = AuthenticationResultsHeader.Format(_authServId, results);
        byte[] bodyHash;
        await using (Stream body = context.Spool.OpenRead())
        {
            body.Seek(context.Spool.BodyOffset, SeekOrigin.Begin);
            bodyHash = await DkimSignatureBuilder.HashBodyAsync(body, DkimCanonicalization.Relaxed, cancellationToken).ConfigureAwait(false);
        }
        var h = new List<string>();
        foreach (string name in _options.Headers.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            h.AddRange(Enumerable.Repeat(name, fields.Count(f => f.Is(name))));
        }
        var (aar, ams, seal) = ArcSealBuilder.Build(fields, chain.Sets, bodyHash, key, entry.Domain, entry.Selector, cv, payload, h, _time.GetUtcNow(), fold: true);
        verdict.Edits.AddOnTop(ArcChain.ResultsName, aar);
        verdict.Edits.AddOnTop(ArcChain.MessageSignatureName, ams);
        verdict.Edits.AddOnTop(ArcChain.SealName, seal);
        Log.Sealed(_logger, context.MailId, chain.Sets.Count + 1, cv);
        return null;
    }

    private async Task<string> ChainValidationAsync(MessageContext context, CancellationToken cancellationToken)
    {
        AuthMethodResult? arc = context.Results.OfType<AuthResult>().SelectMany(a => a.Results).FirstOrDefault(r => r.Method == "arc");
        if (arc is not null && arc.Result is "none" or "pass" or "fail")
        {
            return arc.Result;
        }
        await using Stream body = context.Spool.OpenRead();
        body.Seek(context.Spool.BodyOffset, SeekOrigin.Begin);
        return (await _verifier.VerifyAsync(context.Headers.Fields, body, cancellationToken).ConfigureAwait(false)).Result;
    }

    private static bool Matches(ArcSealDomain entry, string address)
    {
        string domain = Envelope.DomainOf(address);
        return entry.ForwardingDomains.Any(f => f.Contains('@')
            ? f.Equals(address, StringComparison.OrdinalIgnoreCase)
            : f.Equals(domain, StringComparison.OrdinalIgnoreCase));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5310, Level = LogLevel.Debug, Message = "{MailId} ARC sealed i={Instance} cv={Cv}")]
        public static partial void Sealed(ILogger logger, string mailId, int instance, string cv);

        [LoggerMessage(EventId = 5311, Level = LogLevel.Information, Message = "{MailId} not ARC-sealed: {Why}")]
        public static partial void NotSealed(ILogger logger, string mailId, string why);

        [LoggerMessage(EventId = 5312, Level = LogLevel.Error, Message = "{MailId} ARC sealing failed: {Why}")]
        public static partial void KeyFailed(ILogger logger, string mailId, string why);
    }
}
