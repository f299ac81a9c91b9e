using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Hostile;
using ContentFilter.Testing.Smtp;
using Xunit.Abstractions;

namespace ContentFilter.IntegrationTests.Hostile;

/// <summary>
/// Issue 8 item 2: every file of <c>testdata/hostile/</c> against the real service, one test per file. Each gets its
/// clear outcome within its bound, and afterwards the same service still serves a clean client on that door.
/// </summary>
public sealed class HostileCorpusTests(HostileService service, ITestOutputHelper output) : IClassFixture<HostileService>
{
    private const long MiB = 1024 * 1024;

    public static TheoryData<string> SmtpCases => HostileCorpus.Names("smtp");

    public static TheoryData<string> MimeCases => HostileCorpus.Names("mime");

    public static TheoryData<string> ScannerCases => HostileCorpus.Names("scanner-replies");

    public static TheoryData<string> PolicyCases => HostileCorpus.Names("policy");

    public static TheoryData<string> MilterCases => HostileCorpus.Names("milter", "*.bin");

    [SkippableTheory]
    [MemberData(nameof(SmtpCases))]
    public Task Smtp_HostileInput_ClearOutcomeAndDoorKeepsServing(string file) => RunSmtpAsync(HostileCorpus.Get("smtp", file));

    [SkippableTheory]
    [MemberData(nameof(MimeCases))]
    public Task Mime_HostileMessage_BoundedAndDoorKeepsServing(string file) => RunSmtpAsync(HostileCorpus.Get("mime", file));

    [SkippableTheory]
    [MemberData(nameof(ScannerCases))]
    public async Task ScannerReply_GarbageOrSilence_FailsAsConfiguredAndDoorKeepsServing(string file)
    {
        HostileCase c = HostileCorpus.Get("scanner-replies", file);
        await service.EnsureStartedAsync();
        int dumpsBefore = service.Dumps().Count;
        byte[]? reply = c.NeverAnswers ? null : c.Payload();
        if (c.Scanner == "clamd")
        {
            service.Clamd.Reply = reply;
        }
        else
        {
            service.Spamd.Reply = reply;
        }
        var watch = Stopwatch.StartNew();
        SmtpReply final;
        try
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(service.Filter.InboundPort);
            await using (client)
            {
                client.ReplyTimeout = TimeSpan.FromSeconds(c.MaxSeconds);
                await client.EhloAsync();
                byte[] message = Encoding.ASCII.GetBytes($"From: <a@example.org>\r\nTo: <user@dest.test>\r\nSubject: scanner case {c.Name}\r\n\r\nplain text\r\n");
                final = await client.SendMailAsync("a@example.org", ["user@dest.test"], message);
            }
        }
        finally
        {
            service.Clamd.Reply = HostileService.CleanClamd;
            service.Spamd.Reply = HostileService.CleanSpamd;
        }
        Assert.True(watch.Elapsed.TotalSeconds <= c.MaxSeconds, $"took {watch.Elapsed.TotalSeconds:0.0} s");
        Assert.True(HostileCase.Matches(c.Expect[0], final.Code), $"{c}: expected {c.Expect[0]}, got {final}\n{service.Filter.Diagnostics()}");

        string marker = await service.SendCleanAsync(c.ToString());
        await service.WaitForMarkerAsync(marker);
        AssertDeliveries(c, dumpsBefore, marker);
    }

    [SkippableTheory]
    [MemberData(nameof(PolicyCases))]
    public async Task Policy_HostileRequest_ClosedWithoutReplyAndDoorKeepsServing(string file)
    {
        HostileCase c = HostileCorpus.Get("policy", file);
        await service.EnsureStartedAsync();
        byte[] payload = c.Payload();
        var watch = Stopwatch.StartNew();
        using (var socket = await ConnectAsync(service.PolicyPort))
        {
            using var stop = new CancellationTokenSource();
            Task sending = SendAsync(socket, payload, c.IntervalMs, endless: false, stop.Token);
            byte[] answer = await SocketReads.ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(c.MaxSeconds));
            stop.Cancel();
            await sending;
            Assert.True(answer.Length == 0, $"{c}: the policy door answered hostile input: {Encoding.Latin1.GetString(answer)}");
        }
        Assert.True(watch.Elapsed.TotalSeconds <= c.MaxSeconds, $"{c}: closed only after {watch.Elapsed.TotalSeconds:0.0} s");

        // A normal request is still answered.
        using var normal = await ConnectAsync(service.PolicyPort);
        await normal.SendAsync("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nclient_name=client.example.org\nhelo_name=client.example.org\nsender=a@example.org\nrecipient=b@dest.test\ninstance=1.2.3\n\n"u8.ToArray());
        string reply = await ReadLineAsync(normal, TimeSpan.FromSeconds(10));
        Assert.StartsWith("action=", reply);
    }

    [SkippableTheory]
    [MemberData(nameof(MilterCases))]
    public async Task Milter_HostilePackets_ClosedAndDoorKeepsServing(string file)
    {
        await service.EnsureStartedAsync();
        Skip.IfNot(File.Exists("/usr/bin/miltertest"), "miltertest is not installed");
        byte[] payload = await File.ReadAllBytesAsync(Path.Combine(HostileCorpus.Root, "milter", file));
        var watch = Stopwatch.StartNew();
        using (var socket = await ConnectAsync(service.MilterPort))
        {
            await socket.SendAsync(payload);
            await SocketReads.ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10)); // replies before the bad packet (OPTNEG) are fine
        }
        Assert.True(watch.Elapsed.TotalSeconds <= 10, $"closed only after {watch.Elapsed.TotalSeconds:0.0} s");

        string script = Path.Combine(HostileCorpus.Root, "still-serving.lua");
        CommandResult r = await ExternalCommand.RunAsync("/usr/bin/miltertest", ["-D", "port=" + service.MilterPort, "-s", script], TimeSpan.FromSeconds(60));
        Assert.True(r.ExitCode == 0, $"miltertest after {file}: {r.StandardOutput} {r.StandardError}\n{service.Filter.Diagnostics()}");
    }

    private async Task RunSmtpAsync(HostileCase c)
    {
        await service.EnsureStartedAsync();
        ContentFilterProcess filter = service.Filter;
        int dumpsBefore = service.Dumps().Count;
        int auditBefore = filter.AuditRecords().Count;
        byte[] payload = c.Payload();
        if (c.IsMessage)
        {
            payload = RawSmtpClient.DotStuff(payload);
        }
        int pid = filter.Pid!.Value;
        long rssBefore = ProcStatus.RssBytes(pid) ?? 0;
        long rssPeak = rssBefore;
        using var sampling = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            // Current RSS (VmRSS), not VmHWM: the process is shared by every case, and each case gets its own bound.
            while (!sampling.IsCancellationRequested)
            {
                rssPeak = Math.Max(rssPeak, ProcStatus.RssBytes(pid) ?? 0);
                await Task.Delay(20);
            }
        });
        var watch = Stopwatch.StartNew();
        var replies = new List<SmtpReply>();
        try
        {
            var (client, greeting) = await RawSmtpClient.ConnectAsync(filter.InboundPort);
            await using (client)
            {
                Assert.Equal(220, greeting.Code);
                client.ReplyTimeout = TimeSpan.FromSeconds(c.MaxSeconds);
                if (c.At == "data")
                {
                    await client.EhloAsync("hostile.example");
                    Assert.Equal(250, (await client.CommandAsync("MAIL FROM:<hostile@example.org>")).Code);
                    Assert.Equal(250, (await client.CommandAsync("RCPT TO:<user@dest.test>")).Code);
                    Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
                }
                using var stop = new CancellationTokenSource();
                Task sending = SendAsync(client, payload, c.IntervalMs, c.Endless, stop.Token);
                if (c.Then == "hangup")
                {
                    await sending;
                }
                else
                {
                    foreach (string expected in c.Expect)
                    {
                        SmtpReply? r = await client.TryReadReplyAsync();
                        Assert.True(r is not null, $"{c}: connection closed, expected {expected}; so far: {string.Join(" | ", replies)}\n{filter.Diagnostics()}");
                        replies.Add(r!);
                        Assert.True(HostileCase.Matches(expected, r!.Code), $"{c}: expected {expected}, got {r}; so far: {string.Join(" | ", replies)}");
                    }
                    if (c.Then == "closed")
                    {
                        SmtpReply? extra = await client.TryReadReplyAsync();
                        Assert.True(extra is null, $"{c}: expected the door to hang up, got {extra}");
                    }
                    else
                    {
                        Assert.Equal(250, (await client.CommandAsync("NOOP")).Code);
                    }
                    stop.Cancel();
                    await sending;
                }
            }
            Assert.True(watch.Elapsed.TotalSeconds <= c.MaxSeconds, $"{c}: took {watch.Elapsed.TotalSeconds:0.0} s, bound {c.MaxSeconds} s");
        }
        finally
        {
            sampling.Cancel();
            await sampler;
        }
        output.WriteLine($"{c}: {watch.Elapsed.TotalSeconds:0.0} s, RSS {rssBefore / MiB} MiB before, peak {rssPeak / MiB} MiB; replies: {string.Join(" | ", replies)}");
        if (c.MaxRssMiB is int bound)
        {
            Assert.True(rssPeak < bound * MiB, $"{c}: RSS rose from {rssBefore / MiB} MiB to a peak of {rssPeak / MiB} MiB (bound {bound} MiB)");
        }
        if (c.MaxRssGrowthMiB is int growth)
        {
            Assert.True(rssPeak - rssBefore < growth * MiB, $"{c}: RSS rose by {(rssPeak - rssBefore) / MiB} MiB, from {rssBefore / MiB} to {rssPeak / MiB} MiB (bound {growth} MiB)");
        }

        // The door still serves a normal client, and the next hop got exactly what the case says.
        string marker = await service.SendCleanAsync(c.ToString());
        await service.WaitForMarkerAsync(marker);
        AssertDeliveries(c, dumpsBefore, marker);
        if (c.AuditRecords is int audited)
        {
            await filter.WaitForAuditRecordsAsync(auditBefore + audited + 1, TimeSpan.FromSeconds(10));
            await Task.Delay(300);
            Assert.Equal(auditBefore + audited + 1, filter.AuditRecords().Count);
        }
        if (c.LogContains is string logged)
        {
            await Poll.UntilAsync(() => File.ReadAllText(filter.StdoutFile).Contains(logged, StringComparison.Ordinal), TimeSpan.FromSeconds(10), $"'{logged}' in the service log");
        }
    }

    private void AssertDeliveries(HostileCase c, int dumpsBefore, string marker)
    {
        List<string> fromCase = service.Dumps().Skip(dumpsBefore).Select(d => d.Text)
            .Where(t => !t.Contains("Subject: " + marker + "\n", StringComparison.Ordinal)).ToList();
        if (c.Delivered is int delivered)
        {
            Assert.True(fromCase.Count == delivered, $"{c}: {fromCase.Count} message(s) reached the next hop, expected {delivered}:\n{string.Join("\n-----\n", fromCase.Select(t => t.Length > 2000 ? t[..2000] : t))}");
        }
        if (c.DeliveredContains is string text)
        {
            Assert.All(fromCase, t => Assert.Contains(text, t));
        }
    }

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>Sends the payload at once, a byte per interval, or (endless) again and again until stopped or refused.</summary>
    private static Task SendAsync(RawSmtpClient client, byte[] payload, int? intervalMs, bool endless, CancellationToken stop) =>
        SendCoreAsync(b => client.WriteAsync(b, stop), payload, intervalMs, endless, stop);

    private static Task SendAsync(Socket socket, byte[] payload, int? intervalMs, bool endless, CancellationToken stop) =>
        SendCoreAsync(async b => await socket.SendAsync(b, SocketFlags.None, stop), payload, intervalMs, endless, stop);

    private static async Task SendCoreAsync(Func<ReadOnlyMemory<byte>, Task> write, byte[] payload, int? intervalMs, bool endless, CancellationToken stop)
    {
        try
        {
            if (endless)
            {
                if (intervalMs is null)
                {
                    // At full speed, many chunks per write: one write per 130-byte line could not outrun the DATA
                    // deadline on a loaded 2-CPU machine, and the door sees the same bytes either way.
                    payload = [.. Enumerable.Repeat(payload, Math.Max(1, 64 * 1024 / payload.Length)).SelectMany(b => b)];
                }
                while (!stop.IsCancellationRequested)
                {
                    await write(payload);
                    if (intervalMs is int pause)
                    {
                        await Task.Delay(pause, stop);
                    }
                }
            }
            else if (intervalMs is int interval)
            {
                for (int i = 0; i < payload.Length && !stop.IsCancellationRequested; i++)
                {
                    await write(payload.AsMemory(i, 1));
                    await Task.Delay(interval, stop);
                }
            }
            else
            {
                await write(payload);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The door hung up (that is often the point) or the test is done.
        }
    }

    private static async Task<string> ReadLineAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (await socket.ReceiveAsync(one, SocketFlags.None, cts.Token) == 1 && one[0] != (byte)'\n')
        {
            line.Append((char)one[0]);
        }
        return line.ToString();
    }
}
