using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Testing.Daemons;

/// <summary>A private MariaDB server on 127.0.0.1 (own data directory, own port), for the SQL-backed features.</summary>
/// <remarks>
/// Created with <c>mariadb-install-db --auth-root-authentication-method=normal</c> so root has a password-less TCP
/// login; started as <c>mariadbd --no-defaults</c> (Debian's /etc/mysql is never read) and stopped by pid.
/// </remarks>
public sealed class MariaDbInstance : IAsyncDisposable
{
    private readonly string _dir;
    private Process? _process;

    private MariaDbInstance(string dir, int port)
    {
        _dir = dir;
        Port = port;
    }

    /// <summary>The TCP port.</summary>
    public int Port { get; private set; }

    /// <summary>True when the server binaries exist on this machine.</summary>
    public static bool Available => File.Exists("/usr/sbin/mariadbd") && File.Exists("/usr/bin/mariadb-install-db");

    /// <summary>A root connection string to <paramref name="database"/> (or none).</summary>
    public string ConnectionString(string? database = null) =>
        $"Server=127.0.0.1;Port={Port};User ID=root;Password=;{(database is null ? string.Empty : $"Database={database};")}Pooling=false;Connection Timeout=5";

    /// <summary>Creates the data directory and starts the server.</summary>
    public static async Task<MariaDbInstance> StartAsync(CancellationToken cancellationToken = default)
    {
        string dir = Directory.CreateTempSubdirectory("cf-mariadb-").FullName;
        var instance = new MariaDbInstance(dir, FreePort());
        string data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        var install = Process.Start(new ProcessStartInfo("/usr/bin/mariadb-install-db",
            $"--no-defaults --datadir={data} --user=root --auth-root-authentication-method=normal --skip-test-db")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        string installErr = await install.StandardError.ReadToEndAsync(cancellationToken);
        await install.StandardOutput.ReadToEndAsync(cancellationToken);
        await install.WaitForExitAsync(cancellationToken);
        if (install.ExitCode != 0)
        {
            throw new InvalidOperationException($"mariadb-install-db failed ({install.ExitCode}): {installErr}");
        }
        await instance.StartServerAsync(cancellationToken);
        return instance;
    }

    /// <summary>Starts (again) the server on the same data directory and port.</summary>
    public async Task StartServerAsync(CancellationToken cancellationToken = default)
    {
        string data = Path.Combine(_dir, "data");
        _process = Process.Start(new ProcessStartInfo("/usr/sbin/mariadbd",
            $"--no-defaults --datadir={data} --user=root --bind-address=127.0.0.1 --port={Port} " +
            $"--socket={Path.Combine(_dir, "mysqld.sock")} --pid-file={Path.Combine(_dir, "mysqld.pid")} " +
            $"--log-error={Path.Combine(_dir, "error.log")} --skip-log-bin --innodb-buffer-pool-size=16M --skip-name-resolve")
        {
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        })!;
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException("mariadbd exited: " + await File.ReadAllTextAsync(Path.Combine(_dir, "error.log"), cancellationToken));
            }
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100, cancellationToken);
            }
        }
        throw new TimeoutException("mariadbd did not listen within 60 s");
    }

    /// <summary>Stops the server (kills our pid) but keeps the data, to simulate an outage.</summary>
    public async Task StopServerAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process = null;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopServerAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
