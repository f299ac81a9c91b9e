using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Checks.Antivirus;

/// <summary>The <c>clamav</c> check: streams the spooled message to clamd and reports every virus name.</summary>
/// <remarks>
/// The check reports and the policy decides: a failure here (clamd down, timeout, garbage) is a
/// <see cref="CheckStatus.Failed"/> result, which <see cref="VerdictPolicy"/> turns into 4xx by default (viruses fail
/// closed). A message larger than <see cref="ClamAvOptions.MaxScanSize"/>, or refused by clamd's StreamMaxLength, is
/// <see cref="CheckStatus.Skipped"/> with <see cref="VirusScanResult.Oversized"/> set: its own outcome, mapped by policy.
/// clamd decodes MIME itself (ScanMail), so the raw message is sent as it is.
/// </remarks>
public sealed class ClamAvCheck : ICheck
{
    private readonly ClamdClient _client;
    private readonly ClamAvOptions _options;

    /// <summary>Creates the check.</summary>
    public ClamAvCheck(ClamdClient client, ClamAvOptions options)
    {
        _client = client;
        _options = options;
    }

    /// <inheritdoc />
    public string Name => VerdictPolicy.Antivirus;

    /// <inheritdoc />
    public async ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        if (context.Spool.Length > _options.MaxScanSize)
        {
            return new VirusScanResult
            {
                Check = Name,
                Status = CheckStatus.Skipped,
                Oversized = true,
                Detail = $"not scanned: {context.Spool.Length} bytes exceed MaxScanSize {_options.MaxScanSize}",
            };
        }
        await using Stream content = context.Spool.OpenRead();
        ClamdScanOutcome outcome = await _client.ScanAsync(content, cancellationToken).ConfigureAwait(false);
        string scanner = "clamd at " + outcome.Server;
        return outcome.Status switch
        {
            ClamdScanStatus.Clean => new VirusScanResult { Check = Name, Status = CheckStatus.Ok, Scanner = scanner },
            ClamdScanStatus.Infected => new VirusScanResult
            {
                Check = Name,
                Status = CheckStatus.Hit,
                Viruses = outcome.Viruses,
                Scanner = scanner,
                Detail = string.Join(", ", outcome.Viruses),
            },
            ClamdScanStatus.SizeLimitExceeded => new VirusScanResult
            {
                Check = Name,
                Status = CheckStatus.Skipped,
                Oversized = true,
                Scanner = scanner,
                Detail = "not scanned: " + outcome.Detail,
            },
            _ => new VirusScanResult { Check = Name, Status = CheckStatus.Failed, Scanner = scanner, Detail = outcome.Detail },
        };
    }
}
