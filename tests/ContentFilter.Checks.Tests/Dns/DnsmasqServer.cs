using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Checks.Tests.Dns;

/// <summary>
/// A private dnsmasq on 127.0.0.1 and a free port that serves only the records given (no upstream, no hosts file).
/// Names under <c>.test</c> it does not know are NXDOMAIN (<c>--local=/test/</c>); anything else is REFUSED.
/// Stopped by its own pid. (A shared fixture is coming in ContentFilter.Testing; this one keeps the spf work unblocked.)
/// </summary>
internal sealed class DnsmasqServer : IDisposable
{
    public const string Binary = "/usr/sbin/dnsmasq";

    private readonly Process _process;

    private DnsmasqServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    public static bool Available => File.Exists(Binary);

    /// <summary>Starts dnsmasq with the given extra options (<c>--txt-record=...</c>, <c>--host-record=...</c>) and waits until it answers.</summary>
    public static async Task<DnsmasqServer> StartAsync(params string[] records)
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            var psi = new ProcessStartInfo(Binary)
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (string a in new[]
            {
                "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                $"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--local=/test/", "--local-ttl=60",
            })
            {
                psi.ArgumentList.Add(a);
            }
            foreach (string r in records)
            {
                psi.ArgumentList.Add(r);
            }
            Process p = Process.Start(psi)!;
            var server = new DnsmasqServer(p, port);
            if (await server.WaitReadyAsync())
            {
                return server;
            }
            server.Dispose();
            if (attempt >= 3)
            {
                throw new InvalidOperationException("dnsmasq did not start: " + await p.StandardError.ReadToEndAsync());
            }
        }
    }

    private async Task<bool> WaitReadyAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        while (stopwatch.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (_process.HasExited)
            {
                return false;
            }
            using var udp = new UdpClient(AddressFamily.InterNetwork);
            // A query for "ready.test" A: any reply means the server listens.
            byte[] query = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, (byte)'r', (byte)'e', (byte)'a', (byte)'d', (byte)'y', 4, (byte)'t', (byte)'e', (byte)'s', (byte)'t', 0, 0, 1, 0, 1];
            await udp.SendAsync(query, new IPEndPoint(IPAddress.Loopback, Port));
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try
            {
                await udp.ReceiveAsync(cts.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        return false;
    }

    /// <summary>A port free for both UDP and TCP right now.</summary>
    private static int FreePort()
    {
        while (true)
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)tcp.LocalEndPoint!).Port;
            try
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
