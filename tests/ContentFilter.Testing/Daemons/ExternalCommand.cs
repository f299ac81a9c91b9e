using System.Diagnostics;
using System.Text;

namespace ContentFilter.Testing.Daemons;

/// <summary>The outcome of one external command.</summary>
public sealed record CommandResult(string Command, int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Throws with the full output unless the command exited 0.</summary>
    public CommandResult EnsureSuccess()
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"'{Command}' exited {ExitCode}\nstdout: {StandardOutput}\nstderr: {StandardError}");
        }
        return this;
    }
}

/// <summary>Runs short-lived tools (postfix, postconf, postqueue, swaks) with a deadline.</summary>
/// <remarks>
/// Output goes to temporary files, not pipes: <c>postfix start</c> leaves a daemon behind that may inherit the
/// command's descriptors, and a pipe held open by it would make "wait for the output" hang forever.
/// </remarks>
public static class ExternalCommand
{
    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/>; kills it when the deadline passes.</summary>
    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken = default, byte[]? standardInput = null)
    {
        string outFile = Path.GetTempFileName();
        string errFile = Path.GetTempFileName();
        string inFile = standardInput is null ? "/dev/null" : Path.GetTempFileName();
        try
        {
            if (standardInput is not null)
            {
                await File.WriteAllBytesAsync(inFile, standardInput, cancellationToken);
            }
            List<string> args = arguments.ToList();
            var psi = new ProcessStartInfo("/bin/sh")
            {
                UseShellExecute = false,
                RedirectStandardInput = false,
                RedirectStandardOutput = false,
                RedirectStandardError = false,
            };
            // sh -c 'exec "$0" "$@" <in >out 2>err' FILE ARGS...: no quoting of the arguments themselves is needed.
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add($"exec \"$0\" \"$@\" <'{inFile}' >'{outFile}' 2>'{errFile}'");
            psi.ArgumentList.Add(fileName);
            foreach (string a in args)
            {
                psi.ArgumentList.Add(a);
            }
            string display = fileName + " " + string.Join(' ', args);
            using Process process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {display}");
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException($"'{display}' did not finish within {timeout.TotalSeconds:0} s");
            }
            return new CommandResult(display, process.ExitCode, await ReadAsync(outFile), await ReadAsync(errFile));
        }
        finally
        {
            TryDelete(outFile);
            TryDelete(errFile);
            if (standardInput is not null)
            {
                TryDelete(inFile);
            }
        }
    }

    /// <summary>Same as <see cref="RunAsync(string, IEnumerable{string}, TimeSpan, CancellationToken, byte[])"/> with a 60 s deadline.</summary>
    public static Task<CommandResult> RunAsync(string fileName, params string[] arguments) =>
        RunAsync(fileName, arguments, TimeSpan.FromSeconds(60));

    /// <summary>True when an executable of that name is on PATH (or the path exists).</summary>
    public static bool Exists(string fileName)
    {
        if (fileName.Contains('/'))
        {
            return File.Exists(fileName);
        }
        string path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        return (path + ":/usr/sbin:/sbin").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, fileName)));
    }

    private static async Task<string> ReadAsync(string file)
    {
        try
        {
            return await File.ReadAllTextAsync(file, Encoding.UTF8);
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private static void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
        }
    }
}
