using System.Globalization;
using System.Text;

namespace ContentFilter.Testing.Chaos;

/// <summary>A message delivered more than once, and why.</summary>
public sealed record ChaosDuplicate(int Index, string MessageId, string QueueId, int Copies, ChaosDuplicateCause Cause, string Evidence);

/// <summary>A delivered copy whose bytes are not the sent message under the added header fields.</summary>
public sealed record ChaosAlteration(int Index, string MessageId, string Problem);

/// <summary>The figures of one chaos run (<see cref="ChaosRun"/>).</summary>
public sealed class ChaosReport
{
    /// <summary>The run's id (in every Message-ID).</summary>
    public string RunId { get; init; } = string.Empty;

    /// <summary>When the run started.</summary>
    public DateTimeOffset Started { get; init; }

    /// <summary>Wall time of the whole run.</summary>
    public TimeSpan Duration { get; set; }

    /// <summary>Time from the first message sent until the last fault ended.</summary>
    public TimeSpan LoadDuration { get; set; }

    /// <summary>Time <c>postfix flush</c> needed to empty both queues afterwards.</summary>
    public TimeSpan DrainDuration { get; set; }

    /// <summary>The options the run used.</summary>
    public ChaosOptions Options { get; init; } = new();

    /// <summary>Messages the front Postfix accepted (250), i.e. the ones that must arrive (or be discarded as viruses).</summary>
    public int Accepted { get; set; }

    /// <summary>Messages the front Postfix did not accept after retries, or refused with a 5xx (not counted as lost: nobody took them).</summary>
    public int NotAccepted { get; set; }

    /// <summary>Bytes accepted by the front Postfix.</summary>
    public long BytesAccepted { get; set; }

    /// <summary>Largest message accepted, bytes.</summary>
    public long LargestMessage { get; set; }

    /// <summary>Accepted messages with an 8-bit body / DKIM-signed / carrying EICAR.</summary>
    public int EightBit { get; set; }

    /// <inheritdoc cref="EightBit"/>
    public int Signed { get; set; }

    /// <inheritdoc cref="EightBit"/>
    public int Viruses { get; set; }

    /// <summary>Accepted messages over the filter's 256 KiB in-memory threshold (spooled to a file).</summary>
    public int Spooled { get; set; }

    /// <summary>Distinct messages delivered to the final maildir.</summary>
    public int Delivered { get; set; }

    /// <summary>Files in the final maildir (copies included).</summary>
    public int DeliveredFiles { get; set; }

    /// <summary>Accepted, clean messages neither delivered nor still queued (must be empty).</summary>
    public List<int> Lost { get; } = new();

    /// <summary>Messages still in a queue when the drain deadline passed (the run did not finish).</summary>
    public int StillQueued { get; set; }

    /// <summary>Messages delivered more than once, with the cause.</summary>
    public List<ChaosDuplicate> Duplicates { get; } = new();

    /// <summary>Delivered copies whose bytes differ from what was sent (must be empty).</summary>
    public List<ChaosAlteration> Altered { get; } = new();

    /// <summary>Maildir files that are not a message of this run (bounces, for instance).</summary>
    public List<string> Foreign { get; } = new();

    /// <summary>EICAR messages that reached the maildir (must be 0).</summary>
    public int VirusesDelivered { get; set; }

    /// <summary>EICAR messages with a "Blocked" audit record.</summary>
    public int VirusesBlocked { get; set; }

    /// <summary>EICAR messages the front Postfix refused with a 5xx (the milter's reject at end of data).</summary>
    public int VirusesRejected { get; set; }

    /// <summary>Clean messages the front Postfix refused with a 5xx (must be empty).</summary>
    public List<int> CleanRejected { get; } = new();

    /// <summary>Delivered copies without "X-Virus-Scanned: ContentFilter at ..." in a run with antivirus (must be empty: nothing passes unscanned).</summary>
    public List<int> Unscanned { get; } = new();

    /// <summary>The front Postfix's replies other than 250 to the sender at the end of a transaction, by text (ids masked), with counts.</summary>
    public SortedDictionary<string, int> Refusals { get; } = new(StringComparer.Ordinal);

    /// <summary>Delivered signed messages whose DKIM signature verifies with the project's verifier.</summary>
    public int DkimPass { get; set; }

    /// <summary>Delivered signed messages checked.</summary>
    public int DkimChecked { get; set; }

    /// <summary>Names of the header fields found above the sent message in delivered copies, with counts.</summary>
    public SortedDictionary<string, int> AddedFields { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The faults injected, in order, with their offset from the start.</summary>
    public List<string> Faults { get; } = new();

    /// <summary>The front Postfix's deferrals at the filter, by reason (ids masked), with counts.</summary>
    public SortedDictionary<string, int> Deferrals { get; } = new(StringComparer.Ordinal);

    /// <summary>Filter log lines reporting a full spool disk.</summary>
    public int SpoolFullErrors { get; set; }

    /// <summary>Files left in the spool directory after the run (from killed processes).</summary>
    public int SpoolLeftovers { get; set; }

    /// <summary>Audit records written (all processes).</summary>
    public int AuditRecords { get; set; }

    /// <summary>Largest VmHWM of any filter process of the run, bytes.</summary>
    public long PeakRssBytes { get; set; }

    /// <summary>Filter processes started (1 + restarts).</summary>
    public int FilterStarts { get; set; }

    /// <summary>Invariant violations; empty when the run passed.</summary>
    public List<string> Problems { get; } = new();

    /// <summary>True when nothing was lost or altered, no virus was delivered, every duplicate has a documented cause, the queues emptied and the spool is clean.</summary>
    public bool Passed => Problems.Count == 0;

    /// <summary>Duplicates of the documented kinds.</summary>
    public int DocumentedDuplicates => Duplicates.Where(d => d.Cause != ChaosDuplicateCause.Unexplained).Sum(d => d.Copies - 1);

    /// <summary>Extra copies delivered in all.</summary>
    public int DuplicateCopies => Duplicates.Sum(d => d.Copies - 1);

    /// <summary>Fills <see cref="Problems"/> from the figures.</summary>
    public void Evaluate()
    {
        Problems.Clear();
        if (Accepted == 0)
        {
            Problems.Add("no message was accepted");
        }
        if (Lost.Count > 0)
        {
            Problems.Add($"{Lost.Count} message(s) lost: indexes {string.Join(", ", Lost.Take(20))}");
        }
        if (StillQueued > 0)
        {
            Problems.Add($"{StillQueued} message(s) still queued when the drain deadline passed");
        }
        if (Altered.Count > 0)
        {
            Problems.Add($"{Altered.Count} delivered cop(y/ies) altered; first: {Altered[0].MessageId}: {Altered[0].Problem}");
        }
        foreach (ChaosDuplicate d in Duplicates.Where(d => d.Cause == ChaosDuplicateCause.Unexplained))
        {
            Problems.Add($"{d.MessageId} (queue id {d.QueueId}) delivered {d.Copies} times without a documented cause: {d.Evidence}");
        }
        if (CleanRejected.Count > 0)
        {
            Problems.Add($"{CleanRejected.Count} clean message(s) refused with a 5xx: indexes {string.Join(", ", CleanRejected.Take(20))}");
        }
        if (Unscanned.Count > 0)
        {
            Problems.Add($"{Unscanned.Count} message(s) delivered without a virus scan: indexes {string.Join(", ", Unscanned.Take(20))}");
        }
        if (VirusesDelivered > 0)
        {
            Problems.Add($"{VirusesDelivered} EICAR message(s) delivered");
        }
        if (Foreign.Count > 0)
        {
            Problems.Add($"{Foreign.Count} unexpected message(s) in the maildir (bounces?): {string.Join(" | ", Foreign.Take(3))}");
        }
        if (SpoolLeftovers > 0 && StillQueued == 0)
        {
            Problems.Add($"{SpoolLeftovers} spool file(s) left after every message was answered (a leak that keeps a full disk full)");
        }
        if (DkimPass != DkimChecked)
        {
            Problems.Add($"DKIM: only {DkimPass} of {DkimChecked} delivered signed messages verify");
        }
    }

    /// <summary>The report as Markdown (for the console and docs/chaos.md).</summary>
    public string ToMarkdown()
    {
        static string Mib(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
        static string S(TimeSpan t) => t.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) + " s";
        var sb = new StringBuilder();
        void Row(string name, string value) => sb.Append("| ").Append(name).Append(" | ").Append(value).Append(" |\n");
        sb.Append("| figure | value |\n|---|---|\n");
        Row("door", Options.Door == ChaosDoor.Milter ? "milter (smtpd_milters, tempfail by default)" : "after-queue proxy (content_filter)");
        Row("run", $"{RunId}, started {Started:yyyy-MM-dd HH:mm} UTC, {S(Duration)} in all ({S(LoadDuration)} load and faults, {S(DrainDuration)} drain)");
        Row("messages accepted by the front Postfix", $"{Accepted} of {Options.Messages} ({NotAccepted} not accepted), {Mib(BytesAccepted)}, largest {Mib(LargestMessage)}");
        Row("of which", $"{EightBit} 8-bit, {Signed} DKIM-signed, {Viruses} EICAR, {Spooled} over 256 KiB (spool file)");
        Row("faults injected", Faults.Count == 0 ? "none" : string.Join("; ", Faults));
        Row("**delivered**", $"{Delivered} distinct messages in {DeliveredFiles} maildir files");
        Row("**lost**", Lost.Count.ToString(CultureInfo.InvariantCulture) + (StillQueued > 0 ? $" ({StillQueued} still queued at the deadline)" : string.Empty));
        Row("**duplicated**", DuplicateCopies == 0 ? "0"
            : $"{DuplicateCopies} extra cop(y/ies): " + string.Join(", ", Duplicates.GroupBy(d => d.Cause).Select(g => $"{g.Sum(d => d.Copies - 1)} {g.Key}")));
        Row("**bodies differing from what was sent**", Altered.Count.ToString(CultureInfo.InvariantCulture));
        Row("EICAR delivered / blocked (audit) / refused at SMTP time", $"{VirusesDelivered} / {VirusesBlocked} of {Viruses} accepted / {VirusesRejected}");
        Row("delivered without a virus scan", Options.Antivirus ? Unscanned.Count.ToString(CultureInfo.InvariantCulture) : "- (no antivirus)");
        Row("DKIM signatures verifying after delivery", $"{DkimPass} of {DkimChecked}");
        Row("header fields added above the sent bytes", string.Join(", ", AddedFields.Select(kv => $"{kv.Key} ({kv.Value})")));
        Row("unexpected maildir files", Foreign.Count.ToString(CultureInfo.InvariantCulture));
        Row("**peak RSS of the filter**", $"{Mib(PeakRssBytes)} (largest VmHWM of {FilterStarts} filter processes)");
        Row("audit records", AuditRecords.ToString(CultureInfo.InvariantCulture));
        Row("filter log lines: spool disk full", SpoolFullErrors.ToString(CultureInfo.InvariantCulture));
        Row("spool files left behind", SpoolLeftovers.ToString(CultureInfo.InvariantCulture));
        if (Options.Door == ChaosDoor.Proxy || Deferrals.Count > 0)
        {
            sb.Append("\nDeferrals by the front Postfix at the filter (Postfix's reason, ids masked):\n\n| count | reason |\n|---|---|\n");
            foreach (var (reason, count) in Deferrals.OrderByDescending(kv => kv.Value))
            {
                sb.Append("| ").Append(count).Append(" | ").Append(reason.Replace("|", "\\|", StringComparison.Ordinal)).Append(" |\n");
            }
        }
        if (Refusals.Count > 0)
        {
            sb.Append("\nReplies of the front Postfix other than 250 at the end of a transaction (the sender retried a 4xx on a new connection):\n\n| count | reply |\n|---|---|\n");
            foreach (var (reply, count) in Refusals.OrderByDescending(kv => kv.Value))
            {
                sb.Append("| ").Append(count).Append(" | ").Append(reply.Replace("|", "\\|", StringComparison.Ordinal)).Append(" |\n");
            }
        }
        if (Duplicates.Count > 0)
        {
            sb.Append("\nDuplicates:\n\n");
            foreach (ChaosDuplicate d in Duplicates)
            {
                sb.Append("- ").Append(d.MessageId).Append(" (front queue id ").Append(d.QueueId).Append(", ").Append(d.Copies).Append(" copies): ")
                  .Append(d.Cause).Append(" — `").Append(d.Evidence).Append("`\n");
            }
        }
        sb.Append('\n').Append(Passed ? "Result: PASSED" : "Result: FAILED\n\n- " + string.Join("\n- ", Problems)).Append('\n');
        return sb.ToString();
    }
}
