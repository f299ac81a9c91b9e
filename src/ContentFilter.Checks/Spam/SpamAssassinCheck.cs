using System.Globalization;
using System.Text;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Checks.Spam;

/// <summary>The <c>spamassassin</c> check: streams the message (or its head) to spamd and reports score and rules.</summary>
/// <remarks>
/// spamd holds the whole message in memory, so like amavis we send at most <see cref="SpamAssassinOptions.MaxSize"/>
/// bytes: the message is cut at the last line end within the limit, and a pseudo header
/// <see cref="TruncatedHeaderName"/> at the top tells SpamAssassin and anyone reading the report. The cut point is
/// found by reading one window before the limit, so memory stays at one chunk. Our tag/kill levels, not spamd's
/// <c>required_score</c>, decide (in <see cref="VerdictPolicy"/>).
/// </remarks>
public sealed class SpamAssassinCheck : ICheck
{
    /// <summary>The pseudo header put on top of a truncated message.</summary>
    public const string TruncatedHeaderName = "X-ContentFilter-Truncated";

    private const int CutWindow = 64 * 1024;

    private readonly SpamdClient _client;
    private readonly SpamAssassinOptions _options;

    /// <summary>Creates the check.</summary>
    public SpamAssassinCheck(SpamdClient client, SpamAssassinOptions options)
    {
        _client = client;
        _options = options;
    }

    /// <inheritdoc />
    public string Name => VerdictPolicy.Spam;

    /// <inheritdoc />
    public async ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        long length = context.Spool.Length;
        await using Stream content = context.Spool.OpenRead();
        long count = length;
        byte[] prefix = Array.Empty<byte>();
        bool truncated = false;
        if (length > _options.MaxSize)
        {
            if (_options.Oversized == SpamOversizedMode.Skip)
            {
                return new SpamScanResult
                {
                    Check = Name,
                    Status = CheckStatus.Skipped,
                    Detail = $"not scanned: {length} bytes exceed MaxSize {_options.MaxSize}",
                };
            }
            count = await FindCutAsync(content, _options.MaxSize, cancellationToken).ConfigureAwait(false);
            content.Position = 0;
            prefix = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{TruncatedHeaderName}: first {count} of {length} bytes scanned\r\n"));
            truncated = true;
        }

        SpamdScanOutcome outcome = await _client.ScanAsync(content, count, prefix, cancellationToken).ConfigureAwait(false);
        if (!outcome.Succeeded)
        {
            return new SpamScanResult { Check = Name, Status = CheckStatus.Failed, Detail = outcome.Detail, Truncated = truncated };
        }
        Protocols.Spamd.SpamdResponse r = outcome.Response!;
        IReadOnlyList<string> rules = _options.Command == Protocols.Spamd.SpamdCommand.Symbols ? r.Symbols : Array.Empty<string>();
        return new SpamScanResult
        {
            Check = Name,
            Status = r.IsSpam == true ? CheckStatus.Hit : CheckStatus.Ok,
            Score = r.Score!.Value,
            Threshold = r.Threshold ?? 0,
            Rules = rules,
            Truncated = truncated,
            Detail = string.Create(CultureInfo.InvariantCulture, $"score={r.Score:0.0#} required={r.Threshold:0.0#} at {outcome.Server}{(truncated ? " (truncated)" : string.Empty)}"),
        };
    }

    /// <summary>The number of bytes to send: up to and including the last LF at or before <paramref name="limit"/>,
    /// or <paramref name="limit"/> itself when the window before it holds no line end.</summary>
    internal static async Task<long> FindCutAsync(Stream content, long limit, CancellationToken cancellationToken)
    {
        long windowStart = Math.Max(0, limit - CutWindow);
        int windowLength = (int)(limit - windowStart);
        byte[] window = new byte[windowLength];
        content.Position = windowStart;
        await content.ReadExactlyAsync(window, cancellationToken).ConfigureAwait(false);
        int lf = Array.LastIndexOf(window, (byte)'\n');
        return lf < 0 ? limit : windowStart + lf + 1;
    }
}
