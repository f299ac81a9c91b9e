namespace ContentFilter.Checks.Greylisting;

/// <summary>postgrey's record rules in one place for the stores that compute in C# (the Redis store runs the same in Lua).</summary>
internal static class TripletRules
{
    /// <summary>A triplet record that expiry would have removed.</summary>
    public static bool TripletExpired(long first, long last, long now, GreylistTiming t)
        => now - last > t.MaxAge || (last - first < t.Delay && now - last > t.RetryWindow);

    /// <summary>The update for a triplet: (state, first to store). Postgrey's <c>smtpd_access_policy</c>.</summary>
    public static TripletState Update(long? first, long? last, long now, GreylistTiming t)
    {
        if (first is not long f || last is not long l || TripletExpired(f, l, now, t))
        {
            return new TripletState(false, false, now);
        }
        if (l - f >= t.Delay)
        {
            return new TripletState(true, true, f);
        }
        if (now - f > t.RetryWindow)
        {
            f = now;
        }
        return new TripletState(true, false, f);
    }

    /// <summary>Seconds a record (first, now) is worth keeping: max age once passed, else the retry window.</summary>
    public static long TripletLifetime(long first, long now, GreylistTiming t)
        => now - first >= t.Delay ? t.MaxAge : t.RetryWindow;
}
