using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Pipeline.Quarantine;

/// <summary>Keeps blocked messages (original bytes and metadata) keyed by mail_id.</summary>
public interface IQuarantineStore
{
    /// <summary>Stores the original message with its envelope and verdict; returns the quarantine id.</summary>
    Task<string> StoreAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken);
}
