using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.EndToEnd;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.Reliability;

/// <summary>
/// The service's other files on a really full file system (a small tmpfs filled to the last byte), through real
/// Postfix: the quarantine directory, where a failure must keep the mail in Postfix's queue, and the audit file,
/// where it must not stop the mail.
/// </summary>
public sealed class StorageFullTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task QuarantineDirectoryFull_VirusDeferredByPostfixNothingLeftBehind_ThenQuarantinedOnceWhenThereIsRoom()
    {
        Skip.IfNot(TmpfsMount.IsAvailable, "mounting a tmpfs needs root");
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        await using FilterChain chain = await FilterChain.StartAsync(
            configureFilter: f => f.Set("Antivirus:Enabled", true).Set("Antivirus:Servers", new JsonArray(clamd.UnixAddress)),
            startFilter: false);
        await using TmpfsMount quarantine = await TmpfsMount.MountAsync(Path.Combine(chain.Filter.RootDirectory, "quarantine"), 256);
        await chain.Filter.StartAsync();
        quarantine.FillToTheLastByte();

        string queueId = await chain.SubmitAsync("alice@example.org", "user@dest.test",
            EndToEndMessages.WithAttachment("invoice", "<full.q@example.org>", "invoice.txt", EndToEndMessages.Eicar));

        // A discard without a quarantine copy would lose the message: the filter answers 4xx, Postfix keeps it.
        string deferral = await chain.WaitForFilterDeferralAsync(queueId, Deadline);
        Assert.Contains("said: 451", deferral);
        Assert.Equal(queueId, Assert.Single(await chain.Postfix.ListQueueAsync()).QueueId);
        Assert.Empty(quarantine.FilesOtherThanFiller());
        JsonObject tempFailed = (await chain.Filter.WaitForAuditRecordsAsync(1, TimeSpan.FromSeconds(15)))[0];
        Assert.StartsWith("TempFailed", tempFailed["Action"]?.GetValue<string>());
        Assert.Null(tempFailed["QuarantineId"]?.GetValue<string>());

        quarantine.Free();
        await chain.Postfix.FlushAsync();

        // Postfix may have retried once more before the flush (10 s backoff on a slow machine): another 4xx, no copy.
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        static bool Quarantined(JsonObject r) => r["QuarantineId"]?.GetValue<string>() is not null;
        await Poll.UntilAsync(() => chain.Filter.AuditRecords().Any(Quarantined), TimeSpan.FromSeconds(15), "the audit record of the quarantined attempt", TimeSpan.FromMilliseconds(100));
        JsonObject blocked = Assert.Single(chain.Filter.AuditRecords(), Quarantined);
        Assert.Equal("Blocked", blocked["Disposition"]?.GetValue<string>());
        Assert.StartsWith("INFECTED", blocked["Category"]?.GetValue<string>());
        string id = blocked["QuarantineId"]!.GetValue<string>();
        Assert.Equal(
            new[] { id + ".eml", id + ".json" },
            quarantine.FilesOtherThanFiller().Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Empty(chain.Postfix.DeliveredFiles());
    }

    [SkippableFact]
    public async Task AuditFileOnFullDisk_MailStillDeliveredAndTheFailureLogged_RecordsResumeWhenThereIsRoom()
    {
        Skip.IfNot(TmpfsMount.IsAvailable, "mounting a tmpfs needs root");
        await using FilterChain chain = await FilterChain.StartAsync(startFilter: false);
        await using TmpfsMount logs = await TmpfsMount.MountAsync(Path.Combine(chain.Filter.RootDirectory, "audit"), 256);
        string auditFile = Path.Combine(logs.Directory, "audit.json");
        chain.Filter.Set("Audit:File", auditFile);
        await chain.Filter.StartAsync();
        logs.FillToTheLastByte();

        await chain.SubmitAsync("alice@example.org", "user@dest.test", EndToEndMessages.Plain("alice@example.org", "one", "<full.a1@example.org>", "first\r\n"));
        await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);

        // Like a full /var/log under Postfix: the mail goes on, the service says what it could not write, and the
        // amavis-style line still reaches the log.
        await Poll.UntilAsync(() => ReadShared(chain.Filter.StdoutFile).Contains("Could not write the audit record", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the audit failure in the log", TimeSpan.FromMilliseconds(100));
        Assert.Contains("Message-ID: <full.a1@example.org>", ReadShared(chain.Filter.StdoutFile));
        Assert.Equal(0, new FileInfo(auditFile).Length);

        logs.Free();
        await chain.SubmitAsync("alice@example.org", "user@dest.test", EndToEndMessages.Plain("alice@example.org", "two", "<full.a2@example.org>", "second\r\n"));
        await chain.Postfix.WaitForDeliveriesAsync(2, Deadline);

        await Poll.UntilAsync(() => File.ReadAllText(auditFile).Contains("full.a2@example.org", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the second message's audit record\n" + chain.Filter.Diagnostics(), TimeSpan.FromMilliseconds(100));
        string line = Assert.Single(File.ReadAllLines(auditFile), l => l.Length > 0);
        JsonObject record = JsonNode.Parse(line)!["Audit"]!.AsObject();
        Assert.Equal("<full.a2@example.org>", record["MessageId"]?.GetValue<string>());
        Assert.Equal("Passed", record["Disposition"]?.GetValue<string>());
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
