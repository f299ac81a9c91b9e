using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ContentFilter.Testing.Daemons;

/// <summary>
/// Postfix's <c>smtp-sink</c> (a real SMTP peer) on a free loopback port or a unix socket, dumping each received
/// transaction into its own file; stopped by its pid.
/// </summary>
/// <remarks>
/// Facts observed with Postfix 3.7's smtp-sink, which tests relying on the dump must know:
/// <list type="bullet">
/// <item>DATA ends only at CRLF.CRLF (a strict state machine), so it never ends early on bare LF or bare CR.</item>
/// <item>The dump writes each line with LF; a CR is dropped wherever it is (bare CRs vanish); a line start is only
/// after CRLF, and a dot there is removed (unstuffed). See <see cref="SinkView"/>.</item>
/// <item>Each dump starts with X-Client-Addr, X-Client-Proto, X-Helo-Args, X-Mail-Args, X-Rcpt-Args lines and a
/// three-line Received header, and ends with one extra empty line.</item>
/// <item>As root it must drop privileges (<c>-u nobody</c>), so the dump directory is made world-writable.</item>
/// </list>
/// Options such as <c>-r rcpt</c> (4xx), <c>-f .</c> (5xx), <c>-q data</c> (disconnect), <c>-Q mail</c> (421),
/// <c>-p</c> (no PIPELINING), <c>-N</c> (no DSN), <c>-F</c> (no XFORWARD) come from the man page.
/// </remarks>
public sealed class SmtpSinkProcess : IAsyncDisposable
{
    /// <summary>Where Debian's postfix package puts it.</summary>
    public const string Executable = "/usr/sbin/smtp-sink";

    private readonly Process _process;
    private readonly string _directory;

    private SmtpSinkProcess(Process process, string directory, int port, string? socketPath)
    {
        _process = process;
        _directory = directory;
        Port = port;
        SocketPath = socketPath;
    }

    /// <summary>True when smtp-sink is installed (tests skip otherwise).</summary>
    public static bool IsAvailable => File.Exists(Executable);

    /// <summary>The TCP port (0 for a unix socket).</summary>
    public int Port { get; }

    /// <summary>The unix socket path, or null for TCP.</summary>
    public string? SocketPath { get; }

    /// <summary>The sink's pid.</summary>
    public int Pid => _process.Id;

    /// <summary><c>127.0.0.1:PORT</c> or <c>unix:/path</c>, as <c>NextHopOptions.Endpoint</c> takes it.</summary>
    public string Endpoint => SocketPath is null ? $"127.0.0.1:{Port}" : "unix:" + SocketPath;

    /// <summary>Where dumps go (one file per transaction).</summary>
    public string DumpDirectory => Path.Combine(_directory, "dump");

    /// <summary>Starts smtp-sink with extra <paramref name="options"/> (man smtp-sink), on TCP or a unix socket.</summary>
    /// <param name="options">Extra smtp-sink options.</param>
    /// <param name="unixSocket">Listen on a unix socket instead of 127.0.0.1:0.</param>
    /// <param name="socketPath">The unix socket path (default: inside the sink's own temp folder); its folder must exist.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<SmtpSinkProcess> StartAsync(IEnumerable<string>? options = null, bool unixSocket = false, string? socketPath = null, CancellationToken cancellationToken = default)
    {
        string directory = Path.Combine(Path.GetTempPath(), "cf-smtp-sink-" + Guid.NewGuid().ToString("N")[..10]);
        string dump = Path.Combine(directory, "dump");
        Directory.CreateDirectory(dump);
        bool root = Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root";
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, (UnixFileMode)0x1FF); // 0777: the sink runs as nobody
            File.SetUnixFileMode(dump, (UnixFileMode)0x1FF);
        }

        socketPath = unixSocket ? socketPath ?? Path.Combine(directory, "sink.sock") : null;
        var psi = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (root)
        {
            psi.ArgumentList.Add("-u");
            psi.ArgumentList.Add("nobody");
        }
        psi.ArgumentList.Add("-d");
        psi.ArgumentList.Add(Path.Combine(dump, "msg."));
        foreach (string option in options ?? Array.Empty<string>())
        {
            psi.ArgumentList.Add(option);
        }
        psi.ArgumentList.Add(unixSocket ? "unix:" + socketPath : "127.0.0.1:0");
        psi.ArgumentList.Add("64");

        Process process = Process.Start(psi) ?? throw new InvalidOperationException("smtp-sink did not start");
        _ = process.StandardOutput.ReadToEndAsync(cancellationToken);
        _ = process.StandardError.ReadToEndAsync(cancellationToken);
        var sink = new SmtpSinkProcess(process, directory, 0, socketPath);
        try
        {
            int port = 0;
            for (int i = 0; i < 500; i++)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"smtp-sink exited with {process.ExitCode}");
                }
                if (unixSocket ? File.Exists(socketPath) : (port = FindListeningPort(process.Id)) > 0)
                {
                    return new SmtpSinkProcess(process, directory, port, socketPath);
                }
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
            throw new TimeoutException("smtp-sink did not start listening");
        }
        catch
        {
            await sink.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The dump files so far, oldest first.</summary>
    public IReadOnlyList<string> DumpFiles() =>
        Directory.GetFiles(DumpDirectory).Select(f => new FileInfo(f)).OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal).Select(f => f.FullName).ToList();

    /// <summary>Waits (bounded) until at least <paramref name="count"/> complete dumps exist, then parses them all.</summary>
    public async Task<IReadOnlyList<SmtpSinkDump>> WaitForDumpsAsync(int count, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            IReadOnlyList<string> files = DumpFiles();
            if (files.Count >= count)
            {
                // The sink closes a dump after the final dot; a stable size means it is complete.
                long[] sizes = files.Select(f => new FileInfo(f).Length).ToArray();
                await Task.Delay(30).ConfigureAwait(false);
                if (files.Select(f => new FileInfo(f).Length).SequenceEqual(sizes))
                {
                    return files.Select(f => SmtpSinkDump.Parse(File.ReadAllBytes(f))).ToList();
                }
            }
            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"expected {count} dumps, have {files.Count}");
            }
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// What the sink's dump shows for DATA <paramref name="wire"/> bytes (as sent after 354, without the final
    /// <c>.CRLF</c>): CRs dropped, LFs kept, a dot at a line start (after CRLF, or at the start) removed.
    /// </summary>
    public static byte[] SinkView(ReadOnlySpan<byte> wire)
    {
        var output = new List<byte>(wire.Length);
        bool lineStart = true;
        bool pendingCr = false;
        foreach (byte b in wire)
        {
            if (b == (byte)'\r')
            {
                pendingCr = true;
                lineStart = false;
                continue;
            }
            if (b == (byte)'\n')
            {
                output.Add(b);
                lineStart = pendingCr;
                pendingCr = false;
                continue;
            }
            pendingCr = false;
            if (lineStart && b == (byte)'.')
            {
                lineStart = false;
                continue;
            }
            lineStart = false;
            output.Add(b);
        }
        return output.ToArray();
    }

    /// <summary>Finds the TCP port a process listens on, from /proc (the sink was started on port 0).</summary>
    private static int FindListeningPort(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (string fd in Directory.GetFiles($"/proc/{pid}/fd"))
            {
                string? target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    inodes.Add(target[8..^1]);
                }
            }
            foreach (string line in File.ReadLines("/proc/net/tcp").Skip(1))
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // f[1] local "0100007F:ABCD", f[3] state (0A = LISTEN), f[9] inode
                if (f.Length > 9 && f[3] == "0A" && inodes.Contains(f[9]))
                {
                    return int.Parse(f[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return 0;
    }

    /// <summary>Stops the sink (by its pid) and deletes its files.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (TimeoutException)
        {
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One transaction as smtp-sink dumped it.</summary>
/// <param name="Fields">The sink's own lines (<c>X-Mail-Args</c>, <c>X-Rcpt-Args</c> ...), name and value.</param>
/// <param name="Body">The message as the sink wrote it (see <see cref="SmtpSinkProcess.SinkView"/>), without the sink's final empty line.</param>
public sealed record SmtpSinkDump(IReadOnlyList<KeyValuePair<string, string>> Fields, byte[] Body)
{
    /// <summary>Values of a sink field such as <c>X-Rcpt-Args</c>.</summary>
    public IEnumerable<string> Get(string name) => Fields.Where(f => f.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(f => f.Value);

    /// <summary>Splits a dump: sink fields up to and including the three-line Received header, then the body.</summary>
    public static SmtpSinkDump Parse(byte[] dump)
    {
        var fields = new List<KeyValuePair<string, string>>();
        int pos = 0;
        int receivedLines = -1;
        while (pos < dump.Length)
        {
            int lf = Array.IndexOf(dump, (byte)'\n', pos);
            if (lf < 0)
            {
                break;
            }
            string line = Encoding.UTF8.GetString(dump, pos, lf - pos);
            pos = lf + 1;
            if (receivedLines >= 0)
            {
                if (++receivedLines == 2)
                {
                    break;
                }
                continue;
            }
            int colon = line.IndexOf(':');
            string name = colon < 0 ? line : line[..colon];
            fields.Add(new(name, colon < 0 ? string.Empty : line[(colon + 1)..].Trim()));
            if (name == "Received")
            {
                receivedLines = 0;
            }
        }
        int end = dump.Length;
        if (end > pos && dump[end - 1] == (byte)'\n')
        {
            end--; // the sink's closing empty line
        }
        return new SmtpSinkDump(fields, dump[pos..end]);
    }
}
