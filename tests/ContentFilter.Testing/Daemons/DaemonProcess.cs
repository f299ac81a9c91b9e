using System.Diagnostics;
using System.Text;

namespace ContentFilter.Testing.Daemons;

/// <summary>
/// A daemon the kit runs in the foreground as its own child (clamd, spamd): its output kept for failure messages,
/// ready when a probe answers, stopped by its pid, its temp folder removed at the end.
/// </summary>
public abstract class DaemonProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    /// <summary>Takes ownership of <paramref name="directory"/> (deleted on dispose).</summary>
    protected DaemonProcess(string directory)
    {
        Directory = directory;
    }

    /// <summary>The instance's temp folder (config, data, sockets, logs).</summary>
    public string Directory { get; }

    /// <summary>True while the process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>What the daemon printed (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The daemon's name in messages.</summary>
    protected abstract string Name { get; }

    /// <summary>True when the daemon answers its health probe (PING).</summary>
    protected abstract Task<bool> ProbeAsync();

    /// <summary>Starts <paramref name="psi"/> (output captured) and waits until <see cref="ProbeAsync"/> answers within <paramref name="timeout"/>.</summary>
    protected async Task StartProcessAsync(ProcessStartInfo psi, TimeSpan timeout)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {process.ExitCode}: {Output}");
            }
            if (await ProbeAsync().ConfigureAwait(false))
            {
                return;
            }
            await Task.Delay(50).ConfigureAwait(false);
        }
        throw new TimeoutException($"{Name} did not answer PING within {timeout.TotalSeconds:0} s: {Output}");
    }

    /// <summary>Stops the daemon (by our pid, with its children) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        Process? p = _process;
        if (p is null)
        {
            return;
        }
        _process = null;
        if (!p.HasExited)
        {
            p.Kill(entireProcessTree: true);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        p.Dispose();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        GC.SuppressFinalize(this);
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
