using System.Globalization;
using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.EndToEnd;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.Reliability;

/// <summary>
/// The service's other files on a really full file system (a small tmpfs filled to the last byte), through real
/// Postfix: the quarantine directory, where a failure must keep the mail in Postfix's queue, the audit file, where it
/// must not stop the mail, and the greylist database, where greylisting goes on from memory.
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

    [SkippableFact]
    public async Task GreylistDatabaseOnFullDisk_GreylistingGoesOnFromMemory_TheFailedWritesAreLogged_AndWrittenWhenThereIsRoom()
    {
        Skip.IfNot(TmpfsMount.IsAvailable, "mounting a tmpfs needs root");
        int policyPort = TestPaths.FreePorts(1)[0];
        string policy = "127.0.0.1:" + policyPort.ToString(CultureInfo.InvariantCulture);
        await using FilterChain chain = await FilterChain.StartAsync(
            configurePostfix: p => p.SmtpdOverrides.Add($"smtpd_recipient_restrictions=reject_unauth_destination,check_policy_service,inet:{policy}"),
            configureFilter: f =>
            {
                string empty = Path.Combine(f.RootDirectory, "whitelist-empty");
                File.WriteAllText(empty, "");
                f.Set("Listeners:policy", new JsonObject { ["Enabled"] = true, ["Endpoint"] = policy, ["Protocol"] = "Policy", ["Direction"] = "Inbound" })
                    .Set("Greylist:WhitelistClientFiles", new JsonArray(empty))
                    .Set("Greylist:WhitelistRecipientFiles", new JsonArray(empty));
            },
            startFilter: false);
        await using TmpfsMount data = await TmpfsMount.MountAsync(Path.Combine(chain.Filter.RootDirectory, "greylist"), 1024);
        chain.Filter.Set("Greylist:SqlitePath", Path.Combine(data.Directory, "greylist.db"));
        await chain.Filter.StartAsync();
        data.FillToTheLastByte();

        // The store answers from memory and cannot write the new triplet: the sender is greylisted all the same
        // (postgrey's text), and the failed write is in the log with the count of updates waiting.
        SmtpReply whileFull = await RcptAsync(chain, "bob@sender.test");
        Assert.True(whileFull.Code == 450 && whileFull.Text.Contains("Greylisted", StringComparison.Ordinal), $"{whileFull}\n{chain.Diagnostics()}");
        await Poll.UntilAsync(() => ReadShared(chain.Filter.StdoutFile).Contains("Greylist database: write failed (1 in a row, 1 updates waiting", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the failed write in the log\n" + chain.Filter.Diagnostics(), TimeSpan.FromMilliseconds(100));

        // The retry of a few seconds later is still early, as it is for postgrey: the triplet is remembered.
        SmtpReply retry = await RcptAsync(chain, "bob@sender.test");
        Assert.True(retry.Code == 450, $"{retry}\n{chain.Diagnostics()}");
        Assert.Contains("reason=early-retry", ReadShared(chain.Filter.StdoutFile));

        // With room again the writer's next try writes it, and says so.
        data.Free();
        await Poll.UntilAsync(() => ReadShared(chain.Filter.StdoutFile).Contains("Greylist database: writes succeed again", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the writes resuming in the log\n" + chain.Filter.Diagnostics(), TimeSpan.FromMilliseconds(100));
        Assert.True(chain.Filter.Pid is not null, chain.Filter.Diagnostics());
    }

    private static async Task<SmtpReply> RcptAsync(FilterChain chain, string sender)
    {
        var (client, greeting) = await RawSmtpClient.ConnectAsync(chain.Postfix.SmtpPort);
        await using (client)
        {
            Assert.Equal(220, greeting.Code);
            await client.EhloAsync("mta.sender.test");
            Assert.Equal(250, (await client.CommandAsync($"MAIL FROM:<{sender}>")).Code);
            SmtpReply rcpt = await client.CommandAsync("RCPT TO:<user@dest.test>");
            await client.QuitAsync();
            return rcpt;
        }
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
