namespace ContentFilter.Testing.Daemons;

/// <summary>
/// A small tmpfs mounted on a directory for one test, so "the disk is full" is a real <c>ENOSPC</c> from the kernel
/// (a spool, a quarantine directory or an audit file on a full file system). Needs root.
/// </summary>
public sealed class TmpfsMount : IAsyncDisposable
{
    private const string FillerName = ".cf-test-filler";

    private TmpfsMount(string directory) => Directory = directory;

    /// <summary>The mount point.</summary>
    public string Directory { get; }

    /// <summary>True when this process may mount (root, and mount(8) exists).</summary>
    public static bool IsAvailable => Environment.IsPrivilegedProcess && File.Exists("/bin/mount");

    /// <summary>Mounts a tmpfs of <paramref name="sizeKiB"/> KiB, mode 0700, on <paramref name="directory"/> (created if missing).</summary>
    public static async Task<TmpfsMount> MountAsync(string directory, int sizeKiB, CancellationToken cancellationToken = default)
    {
        System.IO.Directory.CreateDirectory(directory);
        (await ExternalCommand.RunAsync("/bin/mount", ["-t", "tmpfs", "-o", $"size={sizeKiB}k,mode=0700", "cf-test-tmpfs", directory],
            TimeSpan.FromSeconds(30), cancellationToken)).EnsureSuccess();
        return new TmpfsMount(directory);
    }

    /// <summary>
    /// Writes a filler file until the file system refuses even one more byte (large writes, then ever smaller ones);
    /// returns how many bytes it took.
    /// </summary>
    public long FillToTheLastByte()
    {
        long written = 0;
        var chunk = new byte[1 << 16];
        var stream = new FileStream(Path.Combine(Directory, FillerName), FileMode.Append, FileAccess.Write, FileShare.None, 1);
        try
        {
            for (int size = chunk.Length; size >= 1; size /= 4)
            {
                try
                {
                    while (true)
                    {
                        stream.Write(chunk, 0, size);
                        written += size;
                    }
                }
                catch (IOException)
                {
                    // ENOSPC at this size: try a smaller write.
                }
            }
        }
        finally
        {
            try
            {
                stream.Dispose();
            }
            catch (IOException)
            {
                // Nothing is left buffered (buffer size 1), but be sure a last flush cannot throw out of here.
            }
        }
        return written;
    }

    /// <summary>Deletes the filler: the file system has room again.</summary>
    public void Free() => File.Delete(Path.Combine(Directory, FillerName));

    /// <summary>The files on the mount other than the filler (what a failed write left behind).</summary>
    public IReadOnlyList<string> FilesOtherThanFiller() =>
        System.IO.Directory.EnumerateFiles(Directory, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != FillerName)
            .ToList();

    /// <summary>Unmounts (lazily if something still holds a file open, so a failed test cannot leave it mounted).</summary>
    public async ValueTask DisposeAsync()
    {
        CommandResult r = await ExternalCommand.RunAsync("/bin/umount", [Directory], TimeSpan.FromSeconds(30));
        if (r.ExitCode != 0)
        {
            await ExternalCommand.RunAsync("/bin/umount", ["-l", Directory], TimeSpan.FromSeconds(30));
        }
    }
}
