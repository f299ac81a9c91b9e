namespace ContentFilter.Checks.Dkim;

/// <summary>OpenDKIM's RequireSafeKeys: a private key others can read or replace is refused.</summary>
/// <remarks>
/// A key readable by group or others can be copied and used to forge our mail; one writable by them can be swapped
/// for an attacker's. The check is by mode bits only (0600 or 0400 pass), stricter than OpenDKIM's group exception,
/// because the filter runs under its own account (Postfix FILTER_README).
/// </remarks>
public static class DkimKeySafety
{
    private const UnixFileMode Unsafe = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Returns null when <paramref name="path"/> is safe, otherwise a message for the admin.</summary>
    public static string? Check(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }
        UnixFileMode mode;
        try
        {
            mode = File.GetUnixFileMode(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot read key file {path}: {e.Message}";
        }
        if ((mode & Unsafe) != 0)
        {
            return $"key file {path} is accessible by group or others (mode {Convert.ToString((int)mode, 8).PadLeft(4, '0')}); chmod 600 it (RequireSafeKeys)";
        }
        return null;
    }
}
