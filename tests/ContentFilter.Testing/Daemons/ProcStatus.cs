using System.Globalization;

namespace ContentFilter.Testing.Daemons;

/// <summary>Reads <c>/proc/PID/status</c>: liveness and memory high-water marks of processes the tests started.</summary>
public static class ProcStatus
{
    /// <summary>True while the process exists and is not a zombie (an exited child nobody reaped yet counts as gone).</summary>
    public static bool IsAlive(int pid)
    {
        string? state = Field(pid, "State");
        return state is not null && !state.StartsWith('Z') && !state.StartsWith('X');
    }

    /// <summary>Peak resident set size (<c>VmHWM</c>) in bytes, or null when the process is gone.</summary>
    public static long? PeakRssBytes(int pid) => Kilobytes(pid, "VmHWM");

    /// <summary>Current resident set size (<c>VmRSS</c>) in bytes, or null when the process is gone.</summary>
    public static long? RssBytes(int pid) => Kilobytes(pid, "VmRSS");

    /// <summary>Waits (polling every 20 ms) until the process has exited; false when the deadline passed first.</summary>
    public static async Task<bool> WaitForExitAsync(int pid, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(20, cancellationToken);
        }
        return true;
    }

    private static long? Kilobytes(int pid, string name)
    {
        string? value = Field(pid, name);
        if (value is null)
        {
            return null;
        }
        string number = value.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return long.Parse(number, CultureInfo.InvariantCulture) * 1024;
    }

    private static string? Field(int pid, string name)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines($"/proc/{pid}/status");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        foreach (string line in lines)
        {
            if (line.StartsWith(name + ":", StringComparison.Ordinal))
            {
                return line[(name.Length + 1)..].Trim();
            }
        }
        return null;
    }
}
