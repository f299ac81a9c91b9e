using System.Net;
using System.Text;
using ContentFilter.Checks.Dns;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Spf;

/// <summary>SPF for inbound mail (RFC 7208): the MAIL FROM identity, or HELO for the null sender (§2.4).</summary>
/// <remarks>
/// The client address and HELO come from XFORWARD (proxy) or milter macros via <see cref="Envelope.Client"/>:
/// in proxy mode the TCP peer is Postfix, whose address would make every record fail. The result becomes
/// <c>spf=... smtp.mailfrom=...</c> (or <c>smtp.helo=</c>) in the one Authentication-Results header; DMARC reads it
/// back. SPF reports only; it never refuses mail (policy decides, and RFC 7489 §10.1 warns against rejecting on
/// SPF fail before DMARC is known). DNS trouble is a temperror result, never a failed check.
/// </remarks>
public sealed partial class SpfCheck : ICheck
{
    /// <summary>The check's name.</summary>
    public const string CheckName = "spf";

    private readonly SpfOptions _options;
    private readonly SpfEvaluator _evaluator;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _receiver;

    /// <summary>Creates the check.</summary>
    public SpfCheck(SpfOptions options, IDnsResolver dns, TimeProvider time, ILogger<SpfCheck> logger)
    {
        options.Validate();
        _options = options;
        _time = time;
        _logger = logger;
        _receiver = string.IsNullOrEmpty(options.ReceiverName) ? Environment.MachineName : options.ReceiverName;
        _evaluator = new SpfEvaluator(dns, options.Limits, time, _receiver);
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
        Envelope envelope = context.Envelope;
        IPAddress? ip = envelope.Client.Address;
        if (ip is null)
        {
            return CheckResult.Skip(CheckName, "client address unknown (no XFORWARD ADDR or milter macro)");
        }
        string helo = envelope.Client.Helo ?? string.Empty;
        bool heloIdentity = envelope.IsNullSender;
        string sender = heloIdentity ? "postmaster@" + helo : envelope.MailFrom;
        string domain = heloIdentity ? helo : Envelope.DomainOf(envelope.MailFrom);
        if (!heloIdentity && envelope.MailFrom.IndexOf('@') < 0)
        {
            // A reverse path without a domain (Postfix allows it with some settings): SPF checks HELO then.
            domain = helo;
        }

        SpfEvaluation evaluation;
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(_options.TimeoutMs), _time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token))
        {
            try
            {
                evaluation = domain.Length == 0
                    ? new SpfEvaluation(SpfResult.None, Problem: "no domain to check")
                    : await _evaluator.CheckHostAsync(ip, domain, sender, helo, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                evaluation = new SpfEvaluation(SpfResult.TempError, Problem: $"evaluation took longer than {_options.TimeoutMs} ms");
            }
        }

        string keyword = evaluation.Result.ToKeyword();
        Log.Evaluated(_logger, context.MailId, keyword, heloIdentity ? "helo" : "mailfrom", domain, ip.ToString(), evaluation.Mechanism ?? evaluation.Problem ?? string.Empty);
        var properties = new List<KeyValuePair<string, string>>
        {
            heloIdentity || envelope.MailFrom.IndexOf('@') < 0
                ? new("smtp.helo", helo)
                : new("smtp.mailfrom", envelope.MailFrom),
        };
        var method = new AuthMethodResult("spf", keyword, null, properties) { Comment = Comment(evaluation, domain, ip) };
        var headers = new List<KeyValuePair<string, string>>();
        if (_options.AddReceivedSpfHeader)
        {
            headers.Add(new("Received-SPF", ReceivedSpf(evaluation, domain, sender, helo, ip, heloIdentity)));
        }
        return new AuthResult
        {
            Check = CheckName,
            Status = evaluation.Result is SpfResult.Fail or SpfResult.SoftFail or SpfResult.PermError ? CheckStatus.Hit : CheckStatus.Ok,
            Detail = $"spf={keyword} {domain}" + (evaluation.Problem is null ? string.Empty : $" ({evaluation.Problem})"),
            Results = new[] { method },
            AddHeaders = headers,
        };
    }

    private string Comment(SpfEvaluation e, string domain, IPAddress ip) => e.Result switch
    {
        SpfResult.Pass => $"{_receiver}: domain of {domain} designates {ip} as permitted sender",
        SpfResult.Fail => $"{_receiver}: domain of {domain} does not designate {ip} as permitted sender",
        SpfResult.SoftFail => $"{_receiver}: domain of transitioning {domain} does not designate {ip} as permitted sender",
        SpfResult.Neutral => $"{_receiver}: {ip} is neither permitted nor denied by domain of {domain}",
        SpfResult.None => $"{_receiver}: {domain} does not designate permitted sender hosts",
        _ => $"{_receiver}: {e.Problem ?? "error"}",
    };

    /// <summary>The Received-SPF value (RFC 7208 §9.1): result, comment, then key=value pairs.</summary>
    private string ReceivedSpf(SpfEvaluation e, string domain, string sender, string helo, IPAddress ip, bool heloIdentity)
    {
        var sb = new StringBuilder();
        sb.Append(e.Result.ToKeyword()).Append(" (").Append(EscapeComment(Comment(e, domain, ip))).Append(')');
        sb.Append("\r\n\treceiver=").Append(Value(_receiver));
        sb.Append("; client-ip=").Append(ip);
        sb.Append("; envelope-from=").Append(Value(heloIdentity ? string.Empty : sender));
        sb.Append("; helo=").Append(Value(helo));
        sb.Append("; identity=").Append(heloIdentity ? "helo" : "mailfrom");
        if (e.Mechanism is not null && e.Mechanism != "default")
        {
            sb.Append("; mechanism=").Append(Value(e.Mechanism));
        }
        if (e.Problem is not null && e.Result is SpfResult.TempError or SpfResult.PermError)
        {
            sb.Append("; problem=").Append(Value(e.Problem));
        }
        sb.Append(';');
        return sb.ToString();
    }

    /// <summary>A dot-atom stays bare; anything else becomes a quoted-string (RFC 5322 §3.2.4).</summary>
    private static string Value(string v)
    {
        if (v.Length > 0 && v.All(c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.".Contains(c)) && !v.StartsWith('.') && !v.EndsWith('.') && !v.Contains("..", StringComparison.Ordinal))
        {
            return v;
        }
        var sb = new StringBuilder("\"");
        foreach (char c in v)
        {
            if (c is '"' or '\\')
            {
                sb.Append('\\');
            }
            sb.Append(c < ' ' || c == 0x7F ? ' ' : c);
        }
        return sb.Append('"').ToString();
    }

    private static string EscapeComment(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            if (c is '(' or ')' or '\\')
            {
                sb.Append('\\');
            }
            sb.Append(c < ' ' || c == 0x7F ? ' ' : c);
        }
        return sb.ToString();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6201, Level = LogLevel.Debug, Message = "{MailId}: spf={Result} identity={Identity} domain={Domain} ip={Ip} ({Why})")]
        public static partial void Evaluated(ILogger logger, string mailId, string result, string identity, string domain, string ip, string why);
    }
}
