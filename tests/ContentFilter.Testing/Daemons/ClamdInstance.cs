using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ContentFilter.Testing.Daemons;

/// <summary>A private clamd for tests: its own config, database copy, unix socket and loopback TCP port.</summary>
/// <remarks>
/// The database is a temp copy of <c>testdata/clamav/</c> (our own EICAR signatures), so no freshclam and no
/// internet are needed (TESTKIT.md). clamd runs in the foreground as a child we started and is stopped by its pid.
/// Ready means <c>zPING</c> on the unix socket answered <c>PONG</c> (about 0.1 s with a tiny database).
/// </remarks>
public sealed class ClamdInstance : DaemonProcess
{
    private readonly string _extraConfig;

    private ClamdInstance(string directory, int port, string extraConfig)
        : base(directory)
    {
        TcpPort = port;
        _extraConfig = extraConfig;
    }

    /// <summary>True when the clamd binary exists (tests skip otherwise).</summary>
    public static bool IsAvailable => File.Exists(ClamdPath);

    /// <summary>The clamd binary.</summary>
    public static string ClamdPath { get; } = "/usr/sbin/clamd";

    /// <summary>The unix socket path.</summary>
    public string SocketPath => Path.Combine(Directory, "clamd.sock");

    /// <summary>The loopback TCP port.</summary>
    public int TcpPort { get; }

    /// <summary>The address in our configuration syntax: <c>unix:/tmp/.../clamd.sock</c>.</summary>
    public string UnixAddress => "unix:" + SocketPath;

    /// <summary>The TCP address: <c>127.0.0.1:PORT</c>.</summary>
    public string TcpAddress => $"127.0.0.1:{TcpPort}";

    /// <inheritdoc />
    protected override string Name => "clamd";

    /// <summary>Creates the instance folder and starts clamd.</summary>
    /// <param name="extraConfig">clamd.conf lines to add (e.g. <c>StreamMaxLength 1M</c>).</param>
    /// <param name="databaseSource">Folder of signature files; default <c>testdata/clamav</c> of the repository.</param>
    /// <param name="tcpPort">The loopback TCP port; default a free one. Given, a real clamd can take over an address a fake held.</param>
    public static async Task<ClamdInstance> StartAsync(string extraConfig = "", string? databaseSource = null, int? tcpPort = null)
    {
        string dir = System.IO.Directory.CreateTempSubdirectory("cf-clamd-").FullName;
        string db = Path.Combine(dir, "db");
        System.IO.Directory.CreateDirectory(db);
        foreach (string f in System.IO.Directory.GetFiles(databaseSource ?? TestDataPath("clamav")))
        {
            File.Copy(f, Path.Combine(db, Path.GetFileName(f)));
        }
        var instance = new ClamdInstance(dir, tcpPort ?? FreeTcpPort(), extraConfig);
        try
        {
            await instance.RestartAsync().ConfigureAwait(false);
        }
        catch
        {
            await instance.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return instance;
    }

    /// <summary>Starts clamd again (after <see cref="StopAsync"/>) with the same socket and port.</summary>
    public async Task RestartAsync()
    {
        if (IsRunning)
        {
            return;
        }
        File.Delete(SocketPath);
        string conf = Path.Combine(Directory, "clamd.conf");
        File.WriteAllText(conf, $"""
            Foreground yes
            DatabaseDirectory {Path.Combine(Directory, "db")}
            LocalSocket {SocketPath}
            LocalSocketMode 666
            TCPSocket {TcpPort}
            TCPAddr 127.0.0.1
            LogFile {Path.Combine(Directory, "clamd.log")}
            PidFile {Path.Combine(Directory, "clamd.pid")}
            SelfCheck 3600
            {_extraConfig}

            """);
        var psi = new ProcessStartInfo(ClamdPath);
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(conf);
        await StartProcessAsync(psi, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task<bool> ProbeAsync()
    {
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await s.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), cts.Token).ConfigureAwait(false);
            await s.SendAsync("zPING\0"u8.ToArray(), SocketFlags.None, cts.Token).ConfigureAwait(false);
            byte[] buffer = new byte[16];
            int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false);
            return Encoding.ASCII.GetString(buffer, 0, n) == "PONG\0";
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>A free loopback TCP port (bound to port 0 and released).</summary>
    internal static int FreeTcpPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>The path of <c>testdata/NAME</c> in the repository this test runs from.</summary>
    public static string TestDataPath(string name) => Path.Combine(RepositoryRoot(), "testdata", name);

    /// <summary>The repository root: the first folder above the test binaries holding <c>ContentFilter.sln</c>.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "ContentFilter.sln")))
            {
                return d.FullName;
            }
        }
        throw new DirectoryNotFoundException("repository root (ContentFilter.sln) not found above " + AppContext.BaseDirectory);
    }
}
