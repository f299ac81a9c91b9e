using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Testing.Daemons;

/// <summary>A private dnsmasq serving only the TXT, PTR and A/AAAA records a test gives it (<see cref="DnsmasqRecords"/>), on a random loopback address.</summary>
/// <remarks>
/// TESTKIT.md "DNS for DKIM/SPF/DMARC tests": <c>--no-resolv --no-hosts --bind-interfaces</c>, nothing is forwarded,
/// so a test can never leak a query off the machine; <c>--local=/#/</c> makes every unknown name NXDOMAIN, as real DNS would answer. It listens on port 53 of a random 127.x.y.z address, because
/// tools that read /etc/resolv.conf (dkimverify, opendkim-testmsg) cannot be given a port; a private mount namespace
/// (<see cref="WrapWithResolvConf"/>) points them at it. Stopped by its pid on dispose.
/// </remarks>
public sealed class DnsmasqServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private DnsmasqServer(Process process, string directory, IPAddress address, int port)
    {
        _process = process;
        _directory = directory;
        Address = address;
        Port = port;
    }

    /// <summary>The loopback address it listens on.</summary>
    public IPAddress Address { get; }

    /// <summary>The UDP/TCP port (53).</summary>
    public int Port { get; }

    /// <summary><c>address:port</c>, as <c>Dns:Servers</c> takes it.</summary>
    public string Endpoint => $"{Address}:{Port}";

    /// <summary>A resolv.conf naming only this server.</summary>
    public string ResolvConfPath => Path.Combine(_directory, "resolv.conf");

    /// <summary>dnsmasq's query log.</summary>
    public string LogPath => Path.Combine(_directory, "dnsmasq.log");

    /// <summary>True when dnsmasq is installed.</summary>
    public static bool IsAvailable => File.Exists("/usr/sbin/dnsmasq");

    /// <summary>True when dnsmasq is installed and may bind port 53 (root), which <see cref="StartAsync"/> needs.</summary>
    public static bool CanStart => IsAvailable && Environment.UserName == "root";

    /// <summary>True when a private mount namespace can be made (root with unshare), so resolv.conf can be swapped for one command.</summary>
    public static bool CanWrapResolvConf => File.Exists("/usr/bin/unshare") && Environment.UserName == "root";

    /// <summary>Starts dnsmasq with <paramref name="txtRecords"/> (name, value); values over 255 bytes are split into several strings.</summary>
    public static Task<DnsmasqServer> StartAsync(IEnumerable<KeyValuePair<string, string>> txtRecords, CancellationToken cancellationToken = default)
    {
        var records = new DnsmasqRecords();
        foreach (KeyValuePair<string, string> r in txtRecords)
        {
            records.Txt(r.Key, r.Value);
        }
        return StartAsync(records, cancellationToken);
    }

    /// <summary>Starts dnsmasq serving <paramref name="records"/> (TXT, PTR, A/AAAA, MX) and nothing else.</summary>
    public static async Task<DnsmasqServer> StartAsync(DnsmasqRecords records, CancellationToken cancellationToken = default)
    {
        string dir = Path.Combine(Path.GetTempPath(), "cf-dnsmasq-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "records.conf"), records.ToString());

        Exception? last = null;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            var address = new IPAddress(new byte[] { 127, (byte)Random.Shared.Next(1, 255), (byte)Random.Shared.Next(1, 255), (byte)Random.Shared.Next(2, 255) });
            var psi = new ProcessStartInfo("/usr/sbin/dnsmasq")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (string a in new[]
            {
                "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll", "--port=53", $"--listen-address={address}",
                "--bind-interfaces", $"--local=/{records.LocalZone}/", "--user=root", "--pid-file=", "--log-queries", $"--log-facility={Path.Combine(dir, "dnsmasq.log")}",
                $"--conf-file={Path.Combine(dir, "records.conf")}", "--cache-size=0",
            })
            {
                psi.ArgumentList.Add(a);
            }
            var process = Process.Start(psi)!;
            var server = new DnsmasqServer(process, dir, address, 53);
            File.WriteAllText(server.ResolvConfPath, $"nameserver {address}\noptions timeout:2 attempts:1\n");
            if (await server.WaitReadyAsync(cancellationToken).ConfigureAwait(false))
            {
                return server;
            }
            last = new InvalidOperationException("dnsmasq did not start: " + await process.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false));
            server.Kill();
        }
        throw last!;
    }

    /// <summary>Wraps a command so it sees <see cref="ResolvConfPath"/> as /etc/resolv.conf (a private mount namespace; the system file is untouched).</summary>
    public ProcessStartInfo WrapWithResolvConf(string command, params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/unshare")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-m");
        psi.ArgumentList.Add("sh");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"");
        psi.ArgumentList.Add(ResolvConfPath);
        psi.ArgumentList.Add(command);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        return psi;
    }

    /// <summary>Splits a TXT value into strings of at most 255 bytes (RFC 1035 §3.3.14; RFC 6376 §3.6.2.2 joins them again).</summary>
    public static IEnumerable<string> Split255(string value)
    {
        for (int i = 0; i < value.Length; i += 255)
        {
            yield return value.Substring(i, Math.Min(255, value.Length - i));
        }
        if (value.Length == 0)
        {
            yield return string.Empty;
        }
    }

    private async Task<bool> WaitReadyAsync(CancellationToken cancellationToken)
    {
        // Ready when it answers a query for a name it does not know (NXDOMAIN, REFUSED or any answer at all).
        byte[] query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 5, (byte)'p', (byte)'r', (byte)'o', (byte)'b', (byte)'e', 7, (byte)'i', (byte)'n', (byte)'v', (byte)'a', (byte)'l', (byte)'i', (byte)'d', 0, 0, 16, 0, 1];
        for (int i = 0; i < 50; i++)
        {
            if (_process.HasExited)
            {
                return false;
            }
            using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            try
            {
                await udp.SendAsync(query, new IPEndPoint(Address, Port), cancellationToken).ConfigureAwait(false);
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                cts.CancelAfter(200);
                UdpReceiveResult r = await udp.ReceiveAsync(cts.Token).ConfigureAwait(false);
                if (r.Buffer.Length >= 12)
                {
                    return true;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
        return false;
    }

    private void Kill()
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

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        return ValueTask.CompletedTask;
    }
}
