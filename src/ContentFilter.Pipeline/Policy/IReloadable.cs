namespace ContentFilter.Pipeline.Policy;

/// <summary>A component that re-reads its files on SIGHUP (whitelists, DKIM KeyTable/SigningTable and keys).</summary>
/// <remarks>
/// Two steps so a reload is never half-applied: <see cref="PrepareAsync"/> reads and validates everything and
/// throws (changing nothing) on any problem; only when every component prepared does the host call the returned
/// commit action, which swaps the prepared state in atomically.
/// </remarks>
public interface IReloadable
{
    /// <summary>Name for logs.</summary>
    string Name { get; }

    /// <summary>Reads and validates the new state; returns the action that puts it in force.</summary>
    ValueTask<Action> PrepareAsync(CancellationToken cancellationToken);
}
