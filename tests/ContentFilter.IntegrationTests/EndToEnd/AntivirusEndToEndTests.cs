using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.EndToEnd;

/// <summary>
/// Virus scanning end to end: a real private Postfix hands mail to the real contentfilter process, which scans it
/// with a real clamd (the repository's test signatures) and reinjects into Postfix, which delivers to a maildir.
/// </summary>
public sealed class AntivirusEndToEndTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static Task<FilterChain> StartChainAsync(ClamdInstance clamd, bool startFilter = true) =>
        FilterChain.StartAsync(configureFilter: f => f
            .Set("Antivirus:Enabled", true)
            .Set("Antivirus:Servers", new JsonArray(clamd.UnixAddress))
            .Set("Antivirus:Timeout", "00:00:20")
            .Set("Antivirus:ConnectTimeout", "00:00:02"), startFilter: startFilter);

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
}
