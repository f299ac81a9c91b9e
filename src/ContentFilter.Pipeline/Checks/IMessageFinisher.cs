using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Pipeline.Checks;

/// <summary>Runs after the verdict, for mail that will be delivered: DKIM signing, ARC sealing.</summary>
/// <remarks>
/// Finishers see the final header view (<see cref="Messages.HeaderEdits.Apply"/>) so a signature covers exactly
/// what is sent, and add their own fields on top via <see cref="Verdict.Edits"/>. A finisher failure is temporary
/// (4xx): unsigned originating mail must not leave silently.
/// </remarks>
public interface IMessageFinisher
{
    /// <summary>Stable lowercase name (<c>dkim-sign</c>, <c>arc-seal</c>).</summary>
    string Name { get; }

    /// <summary>Adds header edits to <paramref name="verdict"/>; returns a result to record (a failure, a skip, or what it
    /// added, e.g. <see cref="DkimSignResult"/>), or null when there is nothing to say.</summary>
    ValueTask<CheckResult?> FinishAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken);
}
