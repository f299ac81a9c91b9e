using System.Net;
using System.Net.Sockets;
using ContentFilter.Host.Configuration;
using ContentFilter.Host.Service;
using ContentFilter.Host.Tests.Reports;
using ContentFilter.Pipeline.Audit;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Host.Tests.Service;

public sealed class MetricsTests
{
    private sealed class NullSink : IAuditSink
    {
        public void Write(AuditRecord record)
        {
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Metrics_ScrapedOverHttp_ShowVerdictCounters()
    {
        // A free port can be taken by a test running in parallel before the listener binds it: try another then.
        int port = 0;
        MetricsService? started = null;
        for (int attempt = 0; started is null; attempt++)
        {
            port = FreePort();
            var candidate = new MetricsService(new MetricsSettings { Endpoint = $"127.0.0.1:{port}" }, NullLogger<MetricsService>.Instance);
            try
            {
                await candidate.StartAsync(CancellationToken.None);
                started = candidate;
            }
            catch (HttpListenerException) when (attempt < 4)
            {
                candidate.Dispose();
            }
        }
        using MetricsService service = started;
        try
        {
            var sink = new MeteredAuditSink(new NullSink());
            foreach (AuditRecord r in AuditReportTests.Day())
            {
                sink.Write(r with { Listener = "metrics-test" });
            }
            using var http = new HttpClient();
            string text = string.Empty;
            // The meter adapter publishes on its own schedule; poll with a deadline rather than sleep blindly.
            DateTime deadline = DateTime.UtcNow.AddSeconds(15);
            while (DateTime.UtcNow < deadline && !text.Contains("listener=\"metrics-test\"", StringComparison.Ordinal))
            {
                text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
                if (!text.Contains("listener=\"metrics-test\"", StringComparison.Ordinal))
                {
                    await Task.Delay(200);
                }
            }
            string[] lines = text.Split('\n');
            Assert.Contains(lines, l => l.StartsWith("contentfilter_messages_total{", StringComparison.Ordinal) && l.Contains("listener=\"metrics-test\"") && l.Contains("category=\"CLEAN\"") && l.TrimEnd().EndsWith(" 2", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("contentfilter_messages_total{", StringComparison.Ordinal) && l.Contains("listener=\"metrics-test\"") && l.Contains("category=\"INFECTED\"") && l.TrimEnd().EndsWith(" 1", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("contentfilter_stage_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("stage=\"clamav\""));
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }
}
