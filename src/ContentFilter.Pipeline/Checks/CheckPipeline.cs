using System.Diagnostics;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Pipeline.Checks;

/// <summary>The one check pipeline every front door uses: run checks, decide, finish (sign/seal).</summary>
/// <remarks>
/// Each check runs with its own timeout; an exception or timeout becomes a <see cref="CheckStatus.Failed"/> result
/// and the policy decides what that means (fail closed for viruses). Checks run in configuration order because
/// later ones read earlier results (DMARC reads SPF and DKIM).
/// </remarks>
public sealed partial class CheckPipeline
{
    private readonly IReadOnlyList<ICheck> _checks;
    private readonly IReadOnlyList<IMessageFinisher> _finishers;
    private readonly Func<VerdictPolicy> _policy;
    private readonly TimeProvider _time;
    private readonly TimeSpan _checkTimeout;
    private readonly ILogger _logger;

    /// <summary>Creates the pipeline.</summary>
    /// <param name="checks">Checks in run order.</param>
    /// <param name="finishers">Finishers in run order (DKIM signing before ARC sealing).</param>
    /// <param name="policy">The current policy (a function, so a reload swaps it between messages).</param>
    /// <param name="time">Clock.</param>
    /// <param name="checkTimeout">Timeout per check.</param>
    /// <param name="logger">Logger.</param>
    public CheckPipeline(IEnumerable<ICheck> checks, IEnumerable<IMessageFinisher> finishers, Func<VerdictPolicy> policy, TimeProvider time, TimeSpan checkTimeout, ILogger<CheckPipeline> logger)
    {
        _checks = checks.ToList();
        _finishers = finishers.ToList();
        _policy = policy;
        _time = time;
        _checkTimeout = checkTimeout;
        _logger = logger;
    }

    /// <summary>The checks, in order.</summary>
    public IReadOnlyList<ICheck> Checks => _checks;

    /// <summary>Runs the checks that apply to the listener, decides, and finishes delivered mail.</summary>
    public async Task<Verdict> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        foreach (ICheck check in _checks)
        {
            if (!context.Listener.Runs(check.Name))
            {
                continue;
            }
            CheckResult result = await RunOneAsync(check.Name, ct => check.RunAsync(context, ct), cancellationToken).ConfigureAwait(false);
            context.AddResult(result);
            context.Timings[check.Name] = result.Elapsed.TotalMilliseconds;
        }

        Verdict verdict = _policy().Decide(context);
        if (verdict.Action != VerdictAction.Deliver)
        {
            return verdict;
        }

        foreach (IMessageFinisher finisher in _finishers)
        {
            if (!context.Listener.Runs(finisher.Name))
            {
                continue;
            }
            bool returned = false;
            CheckResult result = await RunOneAsync(finisher.Name, async ct =>
            {
                CheckResult? r = await finisher.FinishAsync(context, verdict, ct).ConfigureAwait(false);
                returned = r is not null;
                return r ?? new CheckResult { Check = finisher.Name, Status = CheckStatus.Ok };
            }, cancellationToken).ConfigureAwait(false);
            context.Timings[finisher.Name] = result.Elapsed.TotalMilliseconds;
            if (result.Status == CheckStatus.Failed)
            {
                context.AddResult(result);
                verdict.Action = VerdictAction.TempFail;
                verdict.Reason = $"{finisher.Name} failed: {result.Detail}";
                verdict.Reply = new Reply(451, "4.3.0", $"Temporary failure in {finisher.Name}, try again later");
                return verdict;
            }
            if (returned || result.Status != CheckStatus.Ok)
            {
                // What a finisher returns is recorded: a skip says why nothing was added, a signing result names
                // what was (the audit's dkim_new).
                context.AddResult(result);
            }
        }
        return verdict;
    }

    private async Task<CheckResult> RunOneAsync(string name, Func<CancellationToken, ValueTask<CheckResult>> run, CancellationToken cancellationToken)
    {
        long start = _time.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_checkTimeout);
        CheckResult result;
        try
        {
            result = await run(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            result = CheckResult.Failure(name, $"timed out after {_checkTimeout.TotalSeconds:0} s");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.CheckThrew(_logger, name, ex);
            result = CheckResult.Failure(name, ex.GetType().Name + ": " + ex.Message);
        }
        TimeSpan elapsed = _time.GetElapsedTime(start);
        if (result.Status == CheckStatus.Failed)
        {
            Log.CheckFailed(_logger, name, result.Detail ?? "unknown");
        }
        return result with { Elapsed = elapsed };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Check {Check} threw")]
        public static partial void CheckThrew(ILogger logger, string check, Exception exception);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Check {Check} failed: {Detail}")]
        public static partial void CheckFailed(ILogger logger, string check, string detail);
    }
}
