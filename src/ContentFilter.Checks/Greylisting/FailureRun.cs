namespace ContentFilter.Checks.Greylisting;

/// <summary>
/// Spaces the warnings about a background task's run of failures (a WAL checkpoint, the SQLite store's writes): the
/// first failure is warned about at once, later ones at most once per interval with the count in a row, and the
/// first success after a warned run is worth an information line. At most two lines per interval, however often it
/// fails; a failure between successes that falls within the interval is not logged either way.
/// </summary>
/// <param name="time">The clock.</param>
/// <param name="interval">The least time between two warnings.</param>
internal sealed class FailureRun(TimeProvider time, TimeSpan interval)
{
    private long? _lastWarning;
    private bool _warnedInThisRun;

    /// <summary>Failures since the last success.</summary>
    public long InARow { get; private set; }

    /// <summary>Counts a failure.</summary>
    /// <returns>True when it is to be warned about now.</returns>
    public bool Failed()
    {
        InARow++;
        long now = time.GetTimestamp();
        if (_lastWarning is long last && time.GetElapsedTime(last, now) < interval)
        {
            return false;
        }
        _lastWarning = now;
        _warnedInThisRun = true;
        return true;
    }

    /// <summary>Counts a success.</summary>
    /// <returns>The failures in a row it ends when they were warned about (then worth a line), else null.</returns>
    public long? Succeeded()
    {
        long? ended = _warnedInThisRun ? InARow : null;
        InARow = 0;
        _warnedInThisRun = false;
        return ended;
    }
}
