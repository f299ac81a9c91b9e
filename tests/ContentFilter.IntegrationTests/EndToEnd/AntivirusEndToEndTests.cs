using System.Diagnostics;
using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Messages;

namespace ContentFilter.IntegrationTests.EndToEnd;

/// <summary>
/// Virus scanning end to end: a real private Postfix hands mail to the real contentfilter process, which scans it
/// with a real clamd (the repository's test signatures) and reinjects into Postfix, which delivers to a maildir.
/// </summary>
public sealed class AntivirusEndToEndTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static Task<FilterChain> StartChainAsync(ClamdInstance clamd, bool startFilter = true) =>
        StartChainAsync(clamd.UnixAddress, "00:00:20", startFilter);

    private static Task<FilterChain> StartChainAsync(string clamdAddress, string timeout, bool startFilter = true) =>
        FilterChain.StartAsync(configureFilter: f => f
            .Set("Antivirus:Enabled", true)
            .Set("Antivirus:Servers", new JsonArray(clamdAddress))
            .Set("Antivirus:Timeout", timeout)
            .Set("Antivirus:ConnectTimeout", "00:00:02"), startFilter: startFilter);

    /// <summary>The quarantine id the audit record of <paramref name="messageId"/> names (the record must say Blocked).</summary>
    private static async Task<string> QuarantineIdAsync(FilterChain chain, string messageId)
    {
        await Poll.UntilAsync(() => chain.Filter.AuditRecords().Any(r => r["MessageId"]?.GetValue<string>() == messageId), TimeSpan.FromSeconds(30), "the audit record of " + messageId, TimeSpan.FromMilliseconds(100));
        JsonObject blocked = Assert.Single(chain.Filter.AuditRecords(), r => r["MessageId"]?.GetValue<string>() == messageId && r["Door"]?.GetValue<string>() != "release");
        Assert.Equal("Blocked", blocked["Disposition"]?.GetValue<string>());
        return blocked["QuarantineId"]?.GetValue<string>() ?? throw new Xunit.Sdk.XunitException("no QuarantineId in the audit record: " + blocked.ToJsonString());
    }

    [SkippableFact]
    public async Task Eicar_ThroughPostfixAndClamd_DiscardedQuarantinedAuditedWhileCleanMailIsDeliveredScanned()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        await using FilterChain chain = await StartChainAsync(clamd);

        string infectedId = await chain.SubmitAsync("alice@example.org", "user@dest.test",
            EndToEndMessages.WithAttachment("invoice", "<eicar.1@example.org>", "invoice.txt", EndToEndMessages.Eicar));
        string cleanId = await chain.SubmitAsync("alice@example.org", "user@dest.test",
            EndToEndMessages.WithAttachment("report", "<clean.1@example.org>", "report.txt", "quarterly numbers, nothing else"));

        // Both leave the queue: the infected one accepted (250) and discarded by the filter, the clean one delivered.
        await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        string sent = await chain.Postfix.WaitForLogAsync(
            l => l.Contains($" {infectedId}: to=", StringComparison.Ordinal) && l.Contains("/cfilter/", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal),
            Deadline, $"Postfix to hand {infectedId} to the filter");
        Assert.Contains("250", sent);

        IReadOnlyList<JsonObject> audit = await chain.Filter.WaitForAuditRecordsAsync(2, TimeSpan.FromSeconds(15));
        Assert.Single(chain.Postfix.DeliveredFiles());
        byte[] clean = EndToEndMessages.ByMessageId(chain.Postfix, "<clean.1@example.org>");
        Assert.DoesNotContain(chain.Postfix.DeliveredFiles().Select(File.ReadAllBytes), m => EndToEndMessages.Header(m, "Message-ID") == "<eicar.1@example.org>");
        string? scanned = EndToEndMessages.Header(clean, "X-Virus-Scanned");
        Assert.True(scanned is not null && scanned.Contains("ContentFilter", StringComparison.Ordinal), $"X-Virus-Scanned: {scanned}\n{chain.Diagnostics()}");

        JsonObject blocked = Assert.Single(audit, r => r["MessageId"]?.GetValue<string>() == "<eicar.1@example.org>");
        Assert.Equal("Blocked", blocked["Disposition"]?.GetValue<string>());
        Assert.StartsWith("INFECTED (ContentFilter-Test-EICAR", blocked["Category"]?.GetValue<string>());
        Assert.Equal(infectedId, blocked["QueueId"]?.GetValue<string>());
        string quarantineId = blocked["QuarantineId"]?.GetValue<string>() ?? throw new Xunit.Sdk.XunitException("no QuarantineId in the audit record: " + blocked.ToJsonString());
        JsonObject passed = Assert.Single(audit, r => r["MessageId"]?.GetValue<string>() == "<clean.1@example.org>");
        Assert.Equal("Passed", passed["Disposition"]?.GetValue<string>());
        Assert.Null(passed["QuarantineId"]?.GetValue<string>());

        // The admin CLI finds it in the quarantine, and the stored bytes are the infected message.
        CommandResult list = await EndToEndMessages.CliAsync(chain.Filter, "quarantine", "list", "--config", chain.Filter.ConfigFile);
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains(quarantineId, list.StandardOutput);
        CommandResult show = await EndToEndMessages.CliAsync(chain.Filter, "quarantine", "show", quarantineId, "--config", chain.Filter.ConfigFile);
        Assert.True(show.ExitCode == 0, show.ToString());
        Assert.Contains("<eicar.1@example.org>", show.StandardOutput);
        string stored = Path.Combine(chain.Filter.RootDirectory, "quarantine", quarantineId + ".eml");
        Assert.True(File.Exists(stored), "no quarantine file " + stored);
        Assert.Contains("<eicar.1@example.org>", File.ReadAllText(stored));
    }

    [SkippableFact]
    public async Task ClamdStopped_PostfixDefersAndKeepsMail_ThenDeliveredExactlyOnceAfterRestartAndFlush()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        await using FilterChain chain = await StartChainAsync(clamd);
        await clamd.StopAsync();

        string queueId = await chain.SubmitAsync("alice@example.org", "user@dest.test",
            EndToEndMessages.WithAttachment("held", "<held.1@example.org>", "notes.txt", "nothing to see"));

        string deferral = await chain.WaitForFilterDeferralAsync(queueId, Deadline);
        Assert.True(deferral.Contains("said: 4", StringComparison.Ordinal), "the filter must fail closed with 4xx while clamd is down: " + deferral);
        Assert.Empty(chain.Postfix.DeliveredFiles());
        PostfixQueueEntry kept = Assert.Single(await chain.Postfix.ListQueueAsync());
        Assert.Equal(queueId, kept.QueueId);

        await clamd.RestartAsync();
        await chain.Postfix.FlushAsync();

        await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        byte[] delivered = EndToEndMessages.ByMessageId(chain.Postfix, "<held.1@example.org>");
        Assert.Single(chain.Postfix.DeliveredFiles());
        Assert.NotNull(EndToEndMessages.Header(delivered, "X-Virus-Scanned"));
    }

    [SkippableFact]
    public async Task ClamdAcceptsButNeverAnswers_PostfixDefersWithinScanTimeout_ThenDeliveredOnceByHealthyClamdAfterFlush()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        TimeSpan scanTimeout = TimeSpan.FromSeconds(3);
        var hanging = new ClamdFake(reply: null);
        int port = hanging.Port;
        ClamdInstance? clamd = null;
        try
        {
            await using FilterChain chain = await StartChainAsync(hanging.Address, scanTimeout.ToString(@"hh\:mm\:ss"));

            var clock = Stopwatch.StartNew();
            string queueId = await chain.SubmitAsync("alice@example.org", "user@dest.test",
                EndToEndMessages.WithAttachment("stuck", "<stuck.1@example.org>", "notes.txt", "nothing to see"));
            string deferral = await chain.WaitForFilterDeferralAsync(queueId, Deadline);
            TimeSpan took = clock.Elapsed;

            // The fake took the upload and said nothing: the filter waited for the scan timeout, then answered 4xx.
            Assert.True(deferral.Contains("said: 4", StringComparison.Ordinal), "a silent scanner must fail closed with 4xx: " + deferral + "\n" + chain.Diagnostics());
            Assert.True(hanging.Connections >= 1, "the filter never connected to the fake clamd");
            Assert.True(took >= scanTimeout - TimeSpan.FromMilliseconds(500) && took < scanTimeout + TimeSpan.FromSeconds(20),
                $"deferred after {took.TotalSeconds:0.0} s with a {scanTimeout.TotalSeconds} s scan timeout");
            Assert.Empty(chain.Postfix.DeliveredFiles());
            PostfixQueueEntry kept = Assert.Single(await chain.Postfix.ListQueueAsync());
            Assert.Equal(queueId, kept.QueueId);

            // A healthy clamd takes over the same address; the filter is not restarted.
            await hanging.DisposeAsync();
            clamd = await ClamdInstance.StartAsync(tcpPort: port);
            await chain.Postfix.FlushAsync();

            await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);
            await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
            byte[] delivered = EndToEndMessages.ByMessageId(chain.Postfix, "<stuck.1@example.org>");
            Assert.Single(chain.Postfix.DeliveredFiles());
            string? scanned = EndToEndMessages.Header(delivered, "X-Virus-Scanned");
            Assert.True(scanned is not null && scanned.Contains("ContentFilter", StringComparison.Ordinal), $"X-Virus-Scanned: {scanned}\n{chain.Diagnostics()}");
            Assert.Single(chain.Filter.AuditRecords(), r => r["MessageId"]?.GetValue<string>() == "<stuck.1@example.org>" && r["Disposition"]?.GetValue<string>() == "Passed");
        }
        finally
        {
            await hanging.DisposeAsync();
            if (clamd is not null)
            {
                await clamd.DisposeAsync();
            }
        }
    }

    [SkippableFact]
    public async Task QuarantinedEicar_ReleasedByCli_PostfixDeliversOriginalBytes_AndToAnotherRecipientWithTo()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        await using FilterChain chain = await StartChainAsync(clamd);
        byte[] original = EndToEndMessages.WithAttachment("release me", "<release.1@example.org>", "invoice.txt", EndToEndMessages.Eicar);

        string queueId = await chain.SubmitAsync("alice@example.org", "user@dest.test", original);
        string quarantineId = await QuarantineIdAsync(chain, "<release.1@example.org>");
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        Assert.Empty(chain.Postfix.DeliveredFiles());

        // The real CLI reads the service's config and reinjects into the real next hop (Postfix's reinjection smtpd).
        CommandResult release = await EndToEndMessages.CliAsync(chain.Filter, "quarantine", "release", quarantineId, "--config", chain.Filter.ConfigFile);
        Assert.True(release.ExitCode == 0, release + "\n" + chain.Diagnostics());
        byte[] delivered = Assert.Single(await chain.Postfix.WaitForDeliveriesAsync(1, Deadline));

        // Byte for byte what was sent, below the trace fields Postfix adds (its first smtpd's Received is in the
        // quarantined copy; the reinjection smtpd and virtual(8) add theirs). The release adds no header of its own.
        DeliveryComparison same = DeliveredMessage.Compare(original, delivered, DeliveredMessage.PostfixTraceFields);
        Assert.True(same.Intact, same.Problem + "\n" + chain.Diagnostics());
        Assert.Null(EndToEndMessages.Header(delivered, "X-Virus-Scanned"));
        Assert.Equal("user@dest.test", EndToEndMessages.Header(delivered, "Delivered-To"));
        Assert.Equal("<alice@example.org>", EndToEndMessages.Header(delivered, "Return-Path"));
        await chain.Postfix.WaitForLogAsync(l => l.Contains("/reinject/smtpd", StringComparison.Ordinal) && l.Contains(": client=", StringComparison.Ordinal), Deadline, "the reinjection smtpd to accept the release");

        CommandResult redirected = await EndToEndMessages.CliAsync(chain.Filter, "quarantine", "release", quarantineId, "--to", "admin@dest.test", "--config", chain.Filter.ConfigFile);
        Assert.True(redirected.ExitCode == 0, redirected + "\n" + chain.Diagnostics());
        IReadOnlyList<byte[]> both = await chain.Postfix.WaitForDeliveriesAsync(2, Deadline);
        byte[] toAdmin = Assert.Single(both, m => EndToEndMessages.Header(m, "Delivered-To") == "admin@dest.test");
        DeliveryComparison sameAgain = DeliveredMessage.Compare(original, toAdmin, DeliveredMessage.PostfixTraceFields);
        Assert.True(sameAgain.Intact, sameAgain.Problem);
        await chain.Postfix.WaitForLogAsync(l => l.Contains("to=<admin@dest.test>", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal), Deadline, "delivery to admin@dest.test");
        Assert.Empty(chain.Postfix.LogLines(l => l.Contains("to=<user@dest.test>", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal) && l.Contains("relay=virtual", StringComparison.Ordinal)).Skip(1));

        // Both releases are audited against the quarantine id, and the store remembers them.
        IReadOnlyList<JsonObject> releases = chain.Filter.AuditRecords().Where(r => r["Door"]?.GetValue<string>() == "release").ToList();
        Assert.Equal(2, releases.Count);
        Assert.All(releases, r => Assert.Equal(quarantineId, r["QuarantineId"]?.GetValue<string>()));
        Assert.All(releases, r => Assert.Equal("Released", r["Action"]?.GetValue<string>()));
        Assert.NotEqual(queueId, string.Empty);
    }
}
