using System.Runtime.InteropServices;
using System.Text;

namespace ContentFilter.Testing.Daemons;

/// <summary>Reads small files that a daemon holds an exclusive flock(2) on (Postfix's <c>master.pid</c>).</summary>
/// <remarks>
/// .NET takes a shared flock when it opens a file for reading, which fails against the master's exclusive lock
/// ("being used by another process"). Plain open(2)/read(2) ignore advisory locks, as <c>cat</c> does.
/// </remarks>
public static class LockedFile
{
    private const int O_RDONLY = 0;

    /// <summary>The file's text (UTF-8, at most 64 KiB), or null when it cannot be opened.</summary>
    public static string? ReadAllText(string path)
    {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
        {
            return null;
        }
        try
        {
            byte[] buffer = new byte[64 * 1024];
            int total = 0;
            while (total < buffer.Length)
            {
                nint n = read(fd, ref buffer[total], buffer.Length - total);
                if (n <= 0)
                {
                    break;
                }
                total += (int)n;
            }
            return Encoding.UTF8.GetString(buffer, 0, total);
        }
        finally
        {
            _ = close(fd);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern nint read(int fd, ref byte buffer, nint count);

    [DllImport("libc")]
    private static extern int close(int fd);
}
