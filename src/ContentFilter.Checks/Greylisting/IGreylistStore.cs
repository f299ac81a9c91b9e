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

    /// <summary>Removes expired records; returns how many. Stores whose keys expire by themselves return 0.</summary>
    ValueTask<int> ExpireAsync(long now, GreylistTiming timing, CancellationToken cancellationToken);
}
