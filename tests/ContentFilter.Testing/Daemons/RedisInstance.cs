using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ContentFilter.Testing.Daemons;

/// <summary>A private redis-server on 127.0.0.1 and a free port, in a temp directory, stopped by its pid.</summary>
/// <remarks>
/// <c>redis-server --port P --bind 127.0.0.1 --save '' --appendonly no --dir TMP</c>: nothing is written to disk
/// and nothing listens beyond loopback. Tests skip when redis-server is not installed
/// (<see cref="IsAvailable"/>). Several tests may share one instance through distinct key prefixes.
/// </remarks>
public sealed class RedisInstance : IAsyncDisposable
{
    private readonly Process _process;

    private RedisInstance(Process process, int port, string directory)
    {
        _process = process;
        Port = port;
        Directory = directory;
    }

    /// <summary>The redis-server binary, if installed.</summary>
    public static string? Executable { get; } = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server" }.FirstOrDefault(File.Exists);

    /// <summary>True when redis-server is installed.</summary>
    public static bool IsAvailable => Executable is not null;

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>Its private working directory.</summary>
    public string Directory { get; }

    /// <summary>The process id (to stop exactly this server).</summary>
    public int ProcessId => _process.Id;

    /// <summary>A StackExchange.Redis configuration string for it.</summary>
    public string Configuration => $"127.0.0.1:{Port},abortConnect=false";

    /// <summary>Starts a server and waits until it answers PING.</summary>
    public static async Task<RedisInstance> StartAsync(CancellationToken cancellationToken = default)
    {
        string executable = Executable ?? throw new InvalidOperationException("redis-server is not installed");
        for (int attempt = 1; ; attempt++)
        {
            int port = FreePort();
            string dir = System.IO.Directory.CreateTempSubdirectory("cf-redis-").FullName;
            var psi = new ProcessStartInfo(executable)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string arg in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--protected-mode", "yes" })
            {
                psi.ArgumentList.Add(arg);
            }
            Process process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start");
            var output = new StringBuilder();
            process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var instance = new RedisInstance(process, port, dir);
            if (await instance.WaitReadyAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false))
            {
                return instance;
            }
            await instance.DisposeAsync().ConfigureAwait(false);
            if (attempt >= 3)
            {
                string log;
                lock (output)
                {
                    log = output.ToString();
                }
                throw new InvalidOperationException($"redis-server did not answer on port {port}: {log}");
            }
        }
    }

    /// <inheritdoc />
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
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            // Already gone.
        }
        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<bool> WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout && !_process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken).ConfigureAwait(false);
                NetworkStream stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                byte[] buffer = new byte[16];
                int n = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (Encoding.ASCII.GetString(buffer, 0, n).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return true;
                }
            }
            catch (SocketException)
            {
            }
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
        return false;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
