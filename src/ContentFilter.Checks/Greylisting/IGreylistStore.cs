namespace ContentFilter.Checks.Greylisting;

/// <summary>postgrey's timing, in whole seconds, as every store applies it.</summary>
/// <param name="Delay">Seconds a new triplet waits.</param>
/// <param name="RetryWindow">Seconds within which a never-passed triplet must be retried.</param>
/// <param name="MaxAge">Seconds a record may stay unseen.</param>
/// <param name="AutoWhitelistInterval">At most one pass per client is counted in this many seconds (postgrey: 3600).</param>
public readonly record struct GreylistTiming(long Delay, long RetryWindow, long MaxAge, long AutoWhitelistInterval);

/// <summary>A triplet after an update.</summary>
/// <param name="Found">A live record existed (an expired one counts as absent).</param>
/// <param name="LastWasSuccessful">The record had already passed before this request (last − first ≥ delay).</param>
/// <param name="First">First-seen time (Unix seconds) after the update.</param>
public readonly record struct TripletState(bool Found, bool LastWasSuccessful, long First);

/// <summary>The store's part of one greylisting query, done as one atomic step (<see cref="IGreylistStore.CheckAsync"/>).</summary>
/// <param name="TripletKey">The (hashed) triplet key.</param>
/// <param name="ClientKey">The (hashed) client network key for the auto-whitelist; null when auto-whitelisting is off.</param>
/// <param name="CheckAutoWhitelist">Ask the client auto-whitelist first (<see cref="IGreylistStore.TouchAutoWhitelistedAsync"/>); false when the caller already asked.</param>
/// <param name="Threshold">Counted passes that auto-whitelist a client.</param>
/// <param name="Now">Unix seconds.</param>
/// <param name="Timing">postgrey's timing.</param>
public readonly record struct GreylistCheck(string TripletKey, string? ClientKey, bool CheckAutoWhitelist, int Threshold, long Now, GreylistTiming Timing);

/// <summary>What <see cref="IGreylistStore.CheckAsync"/> found.</summary>
/// <param name="AutoWhitelisted">The client is auto-whitelisted (its last-seen time was refreshed; the triplet was not touched).</param>
/// <param name="Triplet">The triplet after its update (default when auto-whitelisted).</param>
/// <param name="PassCount">The client's count after counting this first pass of a triplet; 0 when nothing was counted.</param>
public readonly record struct GreylistCheckResult(bool AutoWhitelisted, TripletState Triplet, int PassCount);

/// <summary>Where triplets and auto-whitelist counters live: each operation is one atomic read-modify-write.</summary>
/// <remarks>
/// <para>Atomic because several sessions (and, with Redis, several MX hosts) update the same triplet at once: a
/// read then a separate write could lose a retry's first-seen time and defer it again.</para>
/// <para>Every store applies the same rules (PROTOCOLS.md §6), and treats records that expiry would remove
/// (unseen for max age; never passed and unseen for the retry window) as absent, so behaviour does not depend on
/// when the cleanup last ran (SQLite) or on key expiry (Redis).</para>
/// </remarks>
public interface IGreylistStore : IAsyncDisposable
{
    /// <summary>
    /// postgrey's triplet update: read (first, last); if it never passed and first is older than the retry window,
    /// first becomes now; store (first, now).
    /// </summary>
    ValueTask<TripletState> UpdateTripletAsync(string key, long now, GreylistTiming timing, CancellationToken cancellationToken);

    /// <summary>True when the client has at least <paramref name="threshold"/> counted passes; then its last-seen time becomes now.</summary>
    ValueTask<bool> TouchAutoWhitelistedAsync(string clientKey, long now, int threshold, GreylistTiming timing, CancellationToken cancellationToken);

    /// <summary>Counts a first pass of a triplet for the client, unless one was counted within the interval; returns the count.</summary>
    ValueTask<int> CountPassAsync(string clientKey, long now, GreylistTiming timing, CancellationToken cancellationToken);

    /// <summary>
    /// One query's store work: the auto-whitelist check (when <see cref="GreylistCheck.CheckAutoWhitelist"/>), else
    /// the triplet update, and the pass count when this is the triplet's first pass (now − first ≥ delay, not passed
    /// before) and <see cref="GreylistCheck.ClientKey"/> is set.
    /// </summary>
    /// <remarks>
    /// The same as calling <see cref="TouchAutoWhitelistedAsync"/>, <see cref="UpdateTripletAsync"/> and
    /// <see cref="CountPassAsync"/> in turn (which the default does); the stores override it to do all three in one
    /// transaction (SQLite) or one round trip (Redis), the cost of a policy query being mostly these steps.
    /// </remarks>
    ValueTask<GreylistCheckResult> CheckAsync(GreylistCheck check, CancellationToken cancellationToken)
        => GreylistChecks.StepwiseAsync(this, check, cancellationToken);

    /// <summary>Removes expired records; returns how many. Stores whose keys expire by themselves return 0.</summary>
    ValueTask<int> ExpireAsync(long now, GreylistTiming timing, CancellationToken cancellationToken);
}

/// <summary>Helpers shared by the stores.</summary>
internal static class GreylistChecks
{
    /// <summary><see cref="IGreylistStore.CheckAsync"/> as three separate operations.</summary>
    public static async ValueTask<GreylistCheckResult> StepwiseAsync(IGreylistStore store, GreylistCheck check, CancellationToken cancellationToken)
    {
        if (check.CheckAutoWhitelist && check.ClientKey is not null
            && await store.TouchAutoWhitelistedAsync(check.ClientKey, check.Now, check.Threshold, check.Timing, cancellationToken).ConfigureAwait(false))
        {
            return new GreylistCheckResult(true, default, 0);
        }
        TripletState state = await store.UpdateTripletAsync(check.TripletKey, check.Now, check.Timing, cancellationToken).ConfigureAwait(false);
        int count = 0;
        if (IsFirstPass(state, check))
        {
            count = await store.CountPassAsync(check.ClientKey!, check.Now, check.Timing, cancellationToken).ConfigureAwait(false);
        }
        return new GreylistCheckResult(false, state, count);
    }

    /// <summary>The triplet passes now for the first time and the client's passes are counted.</summary>
    public static bool IsFirstPass(TripletState state, in GreylistCheck check)
        => check.ClientKey is not null && check.Now - state.First >= check.Timing.Delay && !state.LastWasSuccessful;
}
