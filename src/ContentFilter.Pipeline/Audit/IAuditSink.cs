namespace ContentFilter.Pipeline.Audit;

/// <summary>Receives the one audit record of every message (the host logs it as a line and as JSON).</summary>
public interface IAuditSink
{
    /// <summary>Writes the record. Must not throw.</summary>
    void Write(AuditRecord record);

    /// <summary>Writes a greylisting decision (the policy server and the milter make these). Must not throw.</summary>
    void WriteGreylist(GreylistAuditRecord record)
    {
    }
}
