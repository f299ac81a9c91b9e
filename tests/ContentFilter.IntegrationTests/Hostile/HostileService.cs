using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.Hostile;

/// <summary>
/// One real contentfilter process for the whole hostile corpus, with every door open (inbound proxy, milter, policy),
/// fake clamd and spamd whose replies each case can set, and smtp-sink as the next hop; short timeouts so slow-client
/// cases end in seconds.
/// </summary>
/// <remarks>Sharing one process is the point: after each hostile case the same service must still serve a clean
/// client, so a case that wedged or crashed it fails the cases after it too.</remarks>
public sealed class HostileService : IAsyncLifetime
{
    /// <summary>What the fake clamd answers normally.</summary>
    public static readonly byte[] CleanClamd = "stream: OK\0"u8.ToArray();

    /// <summary>What the fake spamd answers normally.</summary>
    public static readonly byte[] CleanSpamd = "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; 0.1 / 5.0\r\n\r\n"u8.ToArray();

    /// <summary>Command and DATA-read timeout of the service, seconds.</summary>
    public const int CommandTimeoutSeconds = 2;

    /// <summary>DATA deadline of the service, seconds.</summary>
    public const int DataDeadlineSeconds = 4;

    private readonly SemaphoreSlim _start = new(1, 1);
    private bool _started;
    private int _marker;

    /// <summary>The service.</summary>
    public ContentFilterProcess Filter { get; private set; } = null!;

    /// <summary>The next hop.</summary>
    public SmtpSinkProcess Sink { get; private set; } = null!;

    /// <summary>The fake clamd.</summary>
    public ClamdFake Clamd { get; } = new(CleanClamd);

    /// <summary>The fake spamd.</summary>
    public SpamdFake Spamd { get; } = new(CleanSpamd);

    /// <summary>The milter listener's port.</summary>
    public int MilterPort { get; private set; }

    /// <summary>The policy listener's port.</summary>
    public int PolicyPort { get; private set; }

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Starts everything on first use (skips when the service or smtp-sink is not there).</summary>
    public async Task EnsureStartedAsync()
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink (postfix) is not installed");
        await _start.WaitAsync();
        try
        {
            if (_started)
            {
                Assert.True(Filter.Pid is not null, "the service died during an earlier case\n" + Filter.Diagnostics());
                return;
            }
            Sink = await SmtpSinkProcess.StartAsync();
            Filter = new ContentFilterProcess(Sink.Port, ServiceSections.IsKnown);
            Filter.SkipUnlessAvailable();
            int[] ports = TestPaths.FreePorts(2);
            MilterPort = ports[0];
            PolicyPort = ports[1];
            string P(int port) => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
            Filter.Configure(c =>
            {
                c["Listeners"]!["milter"] = new JsonObject { ["Enabled"] = true, ["Endpoint"] = P(MilterPort), ["Protocol"] = "Milter", ["Direction"] = "Inbound" };
                c["Listeners"]!["policy"] = new JsonObject { ["Enabled"] = true, ["Endpoint"] = P(PolicyPort), ["Protocol"] = "Policy", ["Direction"] = "Inbound" };
            });
            Filter.Set("Limits:CommandTimeoutSeconds", CommandTimeoutSeconds)
                .Set("Limits:DataTimeoutSeconds", CommandTimeoutSeconds)
                .Set("Limits:DataDeadlineSeconds", DataDeadlineSeconds)
                .Set("Limits:MaxMessageSize", 10_240_000)
                .Set("Antivirus:Enabled", true).Set("Antivirus:Servers", new JsonArray(Clamd.Address)).Set("Antivirus:Timeout", "00:00:02")
                .Set("Spam:Enabled", true).Set("Spam:Servers", new JsonArray(Spamd.Address)).Set("Spam:Timeout", "00:00:02")
                .Set("Banned:Enabled", true)
                .Set("Milter:IdleTimeout", "00:00:05").Set("Milter:PacketTimeout", "00:00:02")
                .Set("Policy:IdleTimeoutSeconds", 5).Set("Policy:RequestTimeoutSeconds", 2);
            await Filter.StartAsync();
            _started = true;
        }
        finally
        {
            _start.Release();
        }
    }

    /// <summary>Sends one clean message to the inbound door and returns its subject marker; asserts 250.</summary>
    public async Task<string> SendCleanAsync(string why)
    {
        string marker = "marker-" + Interlocked.Increment(ref _marker).ToString(CultureInfo.InvariantCulture);
        var (client, greeting) = await RawSmtpClient.ConnectAsync(Filter.InboundPort);
        await using (client)
        {
            client.ReplyTimeout = TimeSpan.FromSeconds(20);
            Assert.Equal(220, greeting.Code);
            await client.EhloAsync();
            byte[] message = Encoding.ASCII.GetBytes($"From: <clean@example.org>\r\nTo: <user@dest.test>\r\nSubject: {marker}\r\nMessage-ID: <{marker}@example.org>\r\n\r\nclean\r\n");
            SmtpReply reply = await client.SendMailAsync("clean@example.org", ["user@dest.test"], message);
            Assert.True(reply.Code == 250, $"a clean message after {why} got {reply}\n{Filter.Diagnostics()}");
            await client.QuitAsync();
        }
        return marker;
    }

    /// <summary>The sink's dump files as text (CRs dropped by the sink).</summary>
    public IReadOnlyList<(string File, string Text)> Dumps() =>
        Sink.DumpFiles().Select(f => (f, Encoding.Latin1.GetString(File.ReadAllBytes(f)))).ToList();

    /// <summary>Waits until a dump contains <paramref name="marker"/> (the clean message sent after a case).</summary>
    public async Task WaitForMarkerAsync(string marker)
    {
        await Poll.UntilAsync(() => Dumps().Any(d => d.Text.Contains("Subject: " + marker + "\n", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), $"the clean message {marker} at the next hop", TimeSpan.FromMilliseconds(20));
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (Filter is not null)
        {
            await Filter.DisposeAsync();
        }
        if (Sink is not null)
        {
            await Sink.DisposeAsync();
        }
        await Clamd.DisposeAsync();
        await Spamd.DisposeAsync();
        _start.Dispose();
    }
}
