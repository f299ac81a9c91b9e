using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.Hostile;

/// <summary>Issue 8 item 4 (safe defaults) with the real service: never an open relay, allow-lists enforced on every door.</summary>
public sealed partial class SafeDefaultsTests
{
    private const string Strace = "/usr/bin/strace";

    /// <summary>
    /// A message for a foreign recipient, submitted straight to the filter's listener (bypassing Postfix's own relay
    /// checks), goes to the configured next hop and nowhere else: every connect(2) the filter makes while handling it
    /// is to the next hop (seen with strace), and what Postfix does with it afterwards is Postfix's decision.
    /// </summary>
    [SkippableFact]
    public async Task OpenRelay_ForeignRecipientSubmittedDirect_OnlyEverPassedToTheNextHop()
    {
        Skip.IfNot(File.Exists(Strace), "strace is not installed (scripts/install-test-deps installs it)");
        await using FilterChain chain = await FilterChain.StartAsync();
        int pid = chain.Filter.Pid ?? throw new InvalidOperationException("filter not running");
        string trace = Path.Combine(chain.Filter.RootDirectory, "connect.trace");

        SmtpReply reply;
        using (Process strace = StartStrace(pid, trace))
        {
            try
            {
                // strace writes "attached" lines only without -qq; wait for the attach to settle instead.
                await Task.Delay(1000);
                var (client, greeting) = await RawSmtpClient.ConnectAsync(chain.Filter.InboundPort);
                await using (client)
                {
                    Assert.Equal(220, greeting.Code);
                    await client.EhloAsync("attacker.example");
                    byte[] message = Encoding.ASCII.GetBytes("From: <attacker@evil.example>\r\nTo: <victim@foreign.example>\r\nSubject: relay me\r\nMessage-ID: <relay@evil.example>\r\n\r\nplease relay\r\n");
                    reply = await client.SendMailAsync("attacker@evil.example", ["victim@foreign.example"], message);
                    await client.QuitAsync();
                }
                await chain.Filter.WaitForAuditRecordsAsync(1, TimeSpan.FromSeconds(15));
                await Task.Delay(500); // pooled next-hop connections: nothing else may happen afterwards either
            }
            finally
            {
                await ExternalCommand.RunAsync("kill", ["-INT", strace.Id.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10));
                if (!strace.WaitForExit(10_000))
                {
                    strace.Kill();
                }
            }
        }

        // 1. The filter connected only to the next hop, and it did connect there.
        List<(string Address, int Port)> targets = ParseConnects(File.ReadAllText(trace)).ToList();
        Assert.True(targets.Count > 0, "strace saw no connect at all: the trace did not work\n" + File.ReadAllText(trace));
        Assert.All(targets, t => Assert.True(t.Address == "127.0.0.1" && t.Port == chain.Postfix.ReinjectPort,
            $"the filter connected to {t.Address}:{t.Port}; only the next hop 127.0.0.1:{chain.Postfix.ReinjectPort} is allowed"));

        // 2. The message went into the next hop (Postfix's reinjection smtpd) with the foreign recipient, and nowhere else.
        Assert.True(reply.Code == 250, $"{reply}\n{chain.Diagnostics()}");
        string queueId = Regex.Match(reply.Text, @"queued as ([0-9A-Za-z]+)") is { Success: true } m ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException("no next-hop queue id in " + reply);
        await chain.Postfix.WaitForLogAsync(l => l.Contains($" {queueId}: to=<victim@foreign.example>", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "Postfix to try the foreign recipient");
        Assert.Contains(chain.Postfix.LogLines(l => l.Contains($" {queueId}: client=", StringComparison.Ordinal)), l => l.Contains("127.0.0.1", StringComparison.Ordinal));
        Assert.DoesNotContain(chain.Postfix.LogLines(l => l.Contains($" {queueId}: to=", StringComparison.Ordinal)), l => l.Contains("status=sent", StringComparison.Ordinal));
        Assert.Empty(chain.Postfix.DeliveredFiles());
        var record = Assert.Single(chain.Filter.AuditRecords());
        Assert.Equal(queueId, record["QueuedAs"]?.GetValue<string>());
    }

    /// <summary>Outside the allowed networks: the proxy says 554 and closes; milter and policy just close.</summary>
    [SkippableFact]
    public async Task AllowList_ClientOutsideAllowedNetworks_RefusedOnEveryDoor()
    {
        await using var filter = new ContentFilterProcess(TestPaths.FreePort(), ServiceSections.IsKnown);
        filter.SkipUnlessAvailable();
        int[] ports = TestPaths.FreePorts(2);
        string P(int port) => "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture);
        JsonArray Only() => new("192.0.2.0/24");
        filter.Configure(c =>
        {
            c["Listeners"]!["inbound"]!["AllowedClients"] = Only();
            c["Listeners"]!["originating"]!["AllowedClients"] = new JsonArray("127.0.0.1/32");
            c["Listeners"]!["milter"] = new JsonObject { ["Enabled"] = true, ["Endpoint"] = P(ports[0]), ["Protocol"] = "Milter", ["AllowedClients"] = Only() };
            c["Listeners"]!["policy"] = new JsonObject { ["Enabled"] = true, ["Endpoint"] = P(ports[1]), ["Protocol"] = "Policy", ["AllowedClients"] = Only() };
        });
        await filter.StartAsync();

        Assert.Equal("554 5.7.1 filter.test Access denied", await FirstLineThenClosedAsync(filter.InboundPort));
        Assert.Null(await FirstLineThenClosedAsync(ports[0]));
        Assert.Null(await FirstLineThenClosedAsync(ports[1]));
        // Control: a listener whose list holds loopback serves.
        var (client, greeting) = await RawSmtpClient.ConnectAsync(filter.OriginatingPort);
        await using (client)
        {
            Assert.Equal(220, greeting.Code);
        }
        Assert.Contains("not in AllowedClients", await File.ReadAllTextAsync(filter.StdoutFile));
    }

    /// <summary>
    /// The spool directory is 0700, and no message body reaches the logs or the audit file, even at Debug level and
    /// for a message large enough to be spooled to disk.
    /// </summary>
    [SkippableFact]
    public async Task Spool0700_NoBodyInLogsOrAudit_EvenAtDebug()
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink is not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using var filter = new ContentFilterProcess(sink.Port, ServiceSections.IsKnown);
        filter.SkipUnlessAvailable();
        filter.Set("Logging:Level", "Debug");
        await filter.StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(filter.SpoolDirectory));

        const string secret = "BODY-SECRET-7f3a9c";
        foreach (int lines in new[] { 3, 20_000 })
        {
            var body = new StringBuilder("From: a@example.org\r\nTo: b@dest.test\r\nSubject: private\r\n\r\n");
            for (int i = 0; i < lines; i++)
            {
                body.Append(secret).Append(" line ").Append(i).Append("\r\n");
            }
            var (client, greeting) = await RawSmtpClient.ConnectAsync(filter.InboundPort);
            await using (client)
            {
                Assert.Equal(220, greeting.Code);
                await client.EhloAsync();
                SmtpReply reply = await client.SendMailAsync("a@example.org", ["b@dest.test"], Encoding.ASCII.GetBytes(body.ToString()));
                Assert.Equal(250, reply.Code);
                await client.QuitAsync();
            }
        }
        Assert.Equal(2, (await filter.WaitForAuditRecordsAsync(2, TimeSpan.FromSeconds(30))).Count);
        Assert.Equal(2, (await sink.WaitForDumpsAsync(2, TimeSpan.FromSeconds(30))).Count);

        string logs = await File.ReadAllTextAsync(filter.StdoutFile) + await File.ReadAllTextAsync(filter.StderrFile);
        Assert.Contains("DBG", logs, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, await File.ReadAllTextAsync(filter.AuditFile), StringComparison.Ordinal);
    }

    /// <summary>A non-loopback listener without a client allow-list is a configuration error, on every door.</summary>
    [SkippableTheory]
    [InlineData("inbound", "Smtp")]
    [InlineData("milter", "Milter")]
    [InlineData("policy", "Policy")]
    public async Task AllowList_NonLoopbackListenerWithoutList_RefusedByCheckConfig(string listener, string protocol)
    {
        await using var filter = new ContentFilterProcess(TestPaths.FreePort(), ServiceSections.IsKnown);
        filter.SkipUnlessAvailable();
        filter.Configure(c => c["Listeners"]![listener] = new JsonObject { ["Enabled"] = true, ["Endpoint"] = "0.0.0.0:" + TestPaths.FreePort().ToString(CultureInfo.InvariantCulture), ["Protocol"] = protocol });

        CommandResult r = await filter.CheckConfigAsync();

        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"Listeners:{listener}:AllowedClients", r.StandardOutput + r.StandardError);
    }

    private static Process StartStrace(int pid, string output)
    {
        var psi = new ProcessStartInfo(Strace) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in new[] { "-f", "-qq", "-e", "trace=connect", "-o", output, "-p", pid.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }
        Process p = Process.Start(psi) ?? throw new InvalidOperationException("strace did not start");
        _ = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        return p;
    }

    /// <summary>The inet destinations of the traced connect calls (IPv4-mapped IPv6 shown as IPv4); unix sockets are
    /// reported as address <c>unix:PATH</c>, port 0, so they fail the assertion too.</summary>
    private static IEnumerable<(string Address, int Port)> ParseConnects(string trace)
    {
        foreach (string line in trace.Split('\n'))
        {
            if (!line.Contains("connect(", StringComparison.Ordinal))
            {
                continue;
            }
            Match v4 = Inet4().Match(line);
            Match v6 = Inet6().Match(line);
            Match unix = Unix().Match(line);
            if (v4.Success)
            {
                yield return (v4.Groups[2].Value, int.Parse(v4.Groups[1].Value, CultureInfo.InvariantCulture));
            }
            else if (v6.Success)
            {
                var address = IPAddress.Parse(v6.Groups[2].Value);
                yield return ((address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString(), int.Parse(v6.Groups[1].Value, CultureInfo.InvariantCulture));
            }
            else if (unix.Success)
            {
                yield return ("unix:" + unix.Groups[1].Value, 0);
            }
            else if (line.Contains("sa_family=AF_", StringComparison.Ordinal))
            {
                yield return ("unparsed: " + line, 0);
            }
        }
    }

    private static async Task<string?> FirstLineThenClosedAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        string text = Encoding.ASCII.GetString(await SocketReads.ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10)));
        return text.Length == 0 ? null : text.Split("\r\n")[0];
    }

    [GeneratedRegex(@"sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\(""([0-9.]+)""\)")]
    private static partial Regex Inet4();

    [GeneratedRegex(@"sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*inet_pton\(AF_INET6, ""([0-9a-fA-F:.]+)""")]
    private static partial Regex Inet6();

    [GeneratedRegex(@"sa_family=AF_UNIX, sun_path=""([^""]*)""")]
    private static partial Regex Unix();
}
