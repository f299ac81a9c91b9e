namespace ContentFilter.Pipeline.Quarantine;

/// <summary>A quarantine that can also be browsed and managed (list, show, release, delete, expire).</summary>
public interface IQuarantineRepository : IQuarantineStore
{
    /// <summary>Every record, newest first.</summary>
    IReadOnlyList<QuarantineRecord> List();

    /// <summary>The record for <paramref name="id"/>, or null when there is none (or the id is malformed).</summary>
    QuarantineRecord? Get(string id);

    /// <summary>Opens the original bytes of <paramref name="id"/>.</summary>
    Stream OpenMessage(string id);

    /// <summary>Replaces the record (after a release).</summary>
    void Update(QuarantineRecord record);

    /// <summary>Deletes message and record; false when there was none.</summary>
    bool Delete(string id);
}
