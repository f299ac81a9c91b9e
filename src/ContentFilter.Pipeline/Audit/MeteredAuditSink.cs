namespace ContentFilter.Pipeline.Audit;

/// <summary>Records metrics from each audit record, then passes it on: counters can never disagree with the audit trail.</summary>
public sealed class MeteredAuditSink(IAuditSink inner) : IAuditSink
{
    /// <inheritdoc />
    public void Write(AuditRecord record)
    {
        FilterMetrics.Record(record);
        inner.Write(record);
    }

    /// <inheritdoc />
    public void WriteGreylist(GreylistAuditRecord record)
    {
        FilterMetrics.GreylistDecisions.Add(1, new KeyValuePair<string, object?>("action", record.Action));
        inner.WriteGreylist(record);
    }
}
