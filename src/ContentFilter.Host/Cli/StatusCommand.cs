using System.Net.Sockets;
using System.Text;
using ContentFilter.Checks.Antivirus;
using ContentFilter.Checks.Dns;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Checks.Spam;
using ContentFilter.Frontends.Transport;
using ContentFilter.Host.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ContentFilter.Host.Cli;

/// <summary><c>contentfilter status</c>: one line per component of the running service and its peers, with the reason for any failure.</summary>
/// <remarks>Exit code 0 when everything answers, 1 otherwise (so monitoring can run it).</remarks>
public static class StatusCommand
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>Runs the checks and prints the lines; returns the exit code.</summary>
    public static async Task<int> RunAsync(LoadedConfig config, TextWriter output, CancellationToken cancellationToken)
    {
        var lines = new List<(bool Ok, string Name, string Detail)>();
        foreach (var (name, listener) in config.Settings.Listeners.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!listener.Enabled)
            {
                continue;
            }
            string expect = listener.Protocol is ListenerProtocol.Smtp or ListenerProtocol.Lmtp ? "220" : string.Empty;
            lines.Add(await ProbeAsync($"listener {name}", listener.Endpoint, expect, cancellationToken).ConfigureAwait(false));
        }
        lines.Add(await ProbeAsync("next hop", config.Settings.NextHop.Endpoint, "220", cancellationToken).ConfigureAwait(false));

        await using ServiceProvider sp = Service.ServiceHost.BuildTools(config);
        if (config.Get<ClamAvOptions>("Antivirus").Enabled)
        {
            ClamdClient clamd = sp.GetRequiredService<ClamdClient>();
            foreach (string server in config.Get<ClamAvOptions>("Antivirus").EffectiveServers)
            {
                using var cts = Cts(cancellationToken);
                ClamdHealth h = await clamd.CheckHealthAsync(ScannerEndpoint.Parse(server, 3310), cts.Token).ConfigureAwait(false);
                lines.Add((h.Alive, $"clamd {server}", h.Alive ? h.Version ?? "PONG" : h.Error ?? "no answer"));
            }
        }
        if (config.Get<SpamAssassinOptions>("Spam").Enabled)
        {
            SpamdClient spamd = sp.GetRequiredService<SpamdClient>();
            foreach (string server in config.Get<SpamAssassinOptions>("Spam").EffectiveServers)
            {
                using var cts = Cts(cancellationToken);
                bool ok;
                string detail;
                try
                {
                    ok = await spamd.PingAsync(ScannerEndpoint.Parse(server, 783), cts.Token).ConfigureAwait(false);
                    detail = ok ? "PONG" : "no PONG";
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or TimeoutException)
                {
                    ok = false;
                    detail = ex.Message;
                }
                lines.Add((ok, $"spamd {server}", detail));
            }
        }
        GreylistOptions grey = config.Get<GreylistOptions>("Greylist");
        if (grey.Store.Equals("redis", StringComparison.OrdinalIgnoreCase) && config.Settings.Listeners.Values.Any(l => l.Enabled && l.Protocol == ListenerProtocol.Policy))
        {
            try
            {
                using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(grey.RedisConfiguration + ",abortConnect=false,connectTimeout=3000").ConfigureAwait(false);
                TimeSpan rtt = await redis.GetDatabase().PingAsync().ConfigureAwait(false);
                lines.Add((true, "redis", $"PONG in {rtt.TotalMilliseconds:0.0} ms"));
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException)
            {
                lines.Add((false, "redis", ex.Message));
            }
        }
        bool usesDns = config.Get<ContentFilter.Checks.Spf.SpfOptions>("Spf").Enabled || config.Get<ContentFilter.Checks.Dkim.DkimOptions>("Dkim").Verify
            || config.Get<ContentFilter.Checks.Dmarc.DmarcOptions>("Dmarc").Enabled || config.Get<ContentFilter.Checks.Arc.ArcOptions>("Arc").Verify
            || grey.PassSpf || grey.FcrdnsDomains.Count > 0;
        if (usesDns)
        {
            IDnsResolver dns = sp.GetRequiredService<IDnsResolver>();
            using var cts = Cts(cancellationToken);
            DnsAnswer<string> a = await dns.TxtAsync("contentfilter-status-probe.invalid", cts.Token).ConfigureAwait(false);
            bool ok = a.Status != DnsStatus.TempError;
            lines.Add((ok, "dns", ok ? $"resolver answers ({a.Status})" : "no answer (timeout or SERVFAIL)"));
        }

        var sb = new StringBuilder();
        foreach (var (ok, name, detail) in lines)
        {
            sb.Append(ok ? "ok    " : "FAIL  ").Append(name.PadRight(32)).Append(' ').AppendLine(detail);
        }
        await output.WriteAsync(sb.ToString()).ConfigureAwait(false);
        return lines.All(l => l.Ok) ? 0 : 1;
    }

    private static CancellationTokenSource Cts(CancellationToken ct)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(Timeout);
        return cts;
    }

    /// <summary>Connects and, for SMTP peers, reads the greeting.</summary>
    private static async Task<(bool, string, string)> ProbeAsync(string name, string endpoint, string expect, CancellationToken cancellationToken)
    {
        if (!ListenEndpoint.TryParse(endpoint, out ListenEndpoint? ep, out string? error))
        {
            return (false, name, error ?? "bad endpoint");
        }
        using var cts = Cts(cancellationToken);
        try
        {
            using var socket = new Socket(ep!.IsUnix ? AddressFamily.Unix : ep.Address!.AddressFamily, SocketType.Stream, ep.IsUnix ? ProtocolType.Unspecified : ProtocolType.Tcp);
            await socket.ConnectAsync(ep.ToEndPoint(), cts.Token).ConfigureAwait(false);
            if (expect.Length == 0)
            {
                return (true, name, $"{ep} accepts connections");
            }
            var buffer = new byte[512];
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false);
            string greeting = Encoding.ASCII.GetString(buffer, 0, n).Split('\n')[0].TrimEnd('\r');
            await socket.SendAsync("QUIT\r\n"u8.ToArray(), SocketFlags.None, cts.Token).ConfigureAwait(false);
            return (greeting.StartsWith(expect, StringComparison.Ordinal), name, $"{ep}: {greeting}");
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            return (false, name, $"{ep}: {(ex is OperationCanceledException ? "timed out" : ex.Message)}");
        }
    }
}
