using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Frontends.SmtpProxy;

/// <summary>Builds the one audit record of a message the proxy finished with, in amavis's words (PROTOCOLS.md §7).</summary>
internal static class SmtpProxyAudit
{
    /// <summary>The action word inside amavis's braces.</summary>
    public enum Outcome
    {
        Relayed,
        Discarded,
        Rejected,
        TempFailed,
    }

    // direction: Inbound, Outbound or Internal (amavis).
    public static AuditRecord Build(
        DateTimeOffset now,
        string mailId,
        string listener,
        string door,
        Envelope envelope,
        string direction,
        MessageContext? context,
        Verdict? verdict,
        Outcome outcome,
        string category,
        long size,
        string? queuedAs,
        string reply,
        string? reason,
        double elapsedMs,
        IReadOnlyDictionary<string, double> timings)
    {
        string action = outcome.ToString() + direction;
        if (verdict?.QuarantineId is not null)
        {
            action += ",Quarantined";
        }
        var checks = new Dictionary<string, string>(StringComparer.Ordinal);
        IReadOnlyList<string> rules = Array.Empty<string>();
        if (context is not null)
        {
            foreach (CheckResult r in context.Results)
            {
                checks[r.Check] = r.Status.ToString().ToLowerInvariant();
                if (r is SpamScanResult spam)
                {
                    rules = spam.Rules;
                }
            }
        }
        return new AuditRecord
        {
            Time = now,
            MailId = mailId,
            Listener = listener,
            Door = door,
            Disposition = outcome == Outcome.Relayed ? "Passed" : "Blocked",
            Category = category,
            Action = action,
            ClientAddress = envelope.Client.Address?.ToString(),
            ClientPort = envelope.Client.Port,
            ClientName = envelope.Client.Name,
            Sender = envelope.MailFrom,
            Recipients = envelope.Recipients.Select(r => r.Address).ToList(),
            QueueId = envelope.QueueId,
            MessageId = context?.Headers.Get("Message-ID"),
            Hits = verdict?.Score,
            Rules = rules,
            Size = size,
            QueuedAs = outcome == Outcome.Relayed ? queuedAs : null,
            QuarantineId = verdict?.QuarantineId,
            Reply = reply,
            Reason = reason,
            ElapsedMs = elapsedMs,
            Timings = new Dictionary<string, double>(timings),
            Checks = checks,
            DkimValid = context is null ? [] : AuditRecord.DkimValidFrom(context.Results),
            DkimNew = context is null ? [] : AuditRecord.DkimNewFrom(context.Results),
        };
    }
}
