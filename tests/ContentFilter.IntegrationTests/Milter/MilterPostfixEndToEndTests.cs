using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.EndToEnd;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.Milter;

/// <summary>
/// The milter door for real: a private Postfix with <c>smtpd_milters</c> pointing at the contentfilter process's
/// milter listener, which scans with a real clamd (the repository's test signatures) and a real spamd. Postfix
/// delivers to its maildir itself; there is no content_filter and no reinjection in this deployment.
/// </summary>
public sealed class MilterPostfixEndToEndTests : IClassFixture<SpamdInstance>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly SpamdInstance _spamd;

    public MilterPostfixEndToEndTests(SpamdInstance spamd) => _spamd = spamd;

    private static async Task<SmtpReply> SendAsync(PostfixInstance postfix, byte[] message)
    {
        var (client, greeting) = await RawSmtpClient.ConnectAsync(postfix.SmtpPort);
        await using (client)
        {
            Assert.Equal(220, greeting.Code);
            await client.EhloAsync("client.example.org");
            SmtpReply reply = await client.SendMailAsync("alice@example.org", ["user@dest.test"], message);
            await client.QuitAsync();
            return reply;
        }
    }

    [SkippableFact]
    public async Task PostfixSmtpdMilters_RealClamdAndSpamd_EicarRejectedAtEndOfData_GtubeTagged_CleanDeliveredWithOurHeaders()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        Skip.IfNot(SpamdInstance.IsAvailable, "spamd not installed");
        PostfixInstance.SkipUnlessAvailable();
        await _spamd.StartAsync();
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();

        await using MilterDeployment deployment = await MilterDeployment.StartPostfixAsync(o => o.MainCf.Add("milter_content_timeout = 60s"));
        PostfixInstance postfix = deployment.Postfix;
        ContentFilterProcess filter = deployment.Filter;
        filter
            .Set("Antivirus:Enabled", true)
            .Set("Antivirus:Servers", new JsonArray(clamd.UnixAddress))
            .Set("Antivirus:Timeout", "00:00:20")
            .Set("Spam:Enabled", true)
            .Set("Spam:Servers", new JsonArray(_spamd.Address))
            .Set("Verdict:SpamKillLevel", 2000)
            .Set("Verdict:SpamTag2Level", 5);
        await filter.StartAsync();

        // EICAR: the milter's reject reaches the SMTP client as the reply to the final dot; nothing is queued.
        SmtpReply infected = await SendAsync(postfix, EndToEndMessages.WithAttachment("invoice", "<m-eicar.1@example.org>", "invoice.txt", EndToEndMessages.Eicar));
        Assert.True(infected.Code == 554 && infected.Text.Contains("5.7.1", StringComparison.Ordinal), $"EICAR: {infected}\n{postfix.Diagnostics()}\n{filter.Diagnostics()}");
        Assert.Contains("ContentFilter-Test-EICAR", infected.Text);
        await postfix.WaitForLogAsync(l => l.Contains("milter-reject: END-OF-MESSAGE", StringComparison.Ordinal) && l.Contains("5.7.1", StringComparison.Ordinal), Deadline, "Postfix to log the milter reject");

        SmtpReply spam = await SendAsync(postfix, EndToEndMessages.Plain("Alice <alice@example.org>", "gtube", "<m-gtube.1@example.org>", "Buy now.\r\n" + EndToEndMessages.Gtube + "\r\n"));
        Assert.True(spam.Code == 250, $"GTUBE: {spam}\n{filter.Diagnostics()}");
        SmtpReply clean = await SendAsync(postfix, EndToEndMessages.WithAttachment("report", "<m-clean.1@example.org>", "report.txt", "quarterly numbers, nothing else"));
        Assert.True(clean.Code == 250, $"clean: {clean}\n{filter.Diagnostics()}");

        await postfix.WaitForDeliveriesAsync(2, Deadline);
        await postfix.WaitForEmptyQueueAsync(Deadline);
        Assert.Equal(2, postfix.DeliveredFiles().Count);
        Assert.DoesNotContain(postfix.DeliveredFiles().Select(File.ReadAllBytes), m => EndToEndMessages.Header(m, "Message-ID") == "<m-eicar.1@example.org>");

        byte[] tagged = EndToEndMessages.ByMessageId(postfix, "<m-gtube.1@example.org>");
        string headers = string.Join('\n', EndToEndMessages.HeaderFields(tagged));
        Assert.True(EndToEndMessages.Header(tagged, "X-Spam-Flag") == "YES", "GTUBE not flagged:\n" + headers + "\n" + filter.Diagnostics());
        Assert.Contains("GTUBE", EndToEndMessages.Header(tagged, "X-Spam-Status") ?? "");
        Assert.NotNull(EndToEndMessages.Header(tagged, "X-Spam-Score"));
        Assert.Equal("***SPAM*** gtube", EndToEndMessages.Header(tagged, "Subject"));
        Assert.Single(EndToEndMessages.HeaderFields(tagged), f => f.StartsWith("Subject:", StringComparison.OrdinalIgnoreCase));

        byte[] delivered = EndToEndMessages.ByMessageId(postfix, "<m-clean.1@example.org>");
        string? scanned = EndToEndMessages.Header(delivered, "X-Virus-Scanned");
        Assert.True(scanned is not null && scanned.Contains("ContentFilter", StringComparison.Ordinal), $"X-Virus-Scanned: {scanned}\n" + string.Join('\n', EndToEndMessages.HeaderFields(delivered)));
        Assert.Equal("NO", EndToEndMessages.Header(delivered, "X-Spam-Flag"));
        Assert.StartsWith("No", EndToEndMessages.Header(delivered, "X-Spam-Status") ?? "");
        Assert.Equal("report", EndToEndMessages.Header(delivered, "Subject"));

        // One audit record per message, from the milter door.
        IReadOnlyList<JsonObject> audit = await filter.WaitForAuditRecordsAsync(3, TimeSpan.FromSeconds(15));
        JsonObject blocked = Assert.Single(audit, r => r["MessageId"]?.GetValue<string>() == "<m-eicar.1@example.org>");
        Assert.Equal("Blocked", blocked["Disposition"]?.GetValue<string>());
        Assert.StartsWith("INFECTED (ContentFilter-Test-EICAR", blocked["Category"]?.GetValue<string>());
    }

    [SkippableFact]
    public async Task MilterDownThenClamdDown_ClientGets4xxAndNothingIsQueued_ThenDeliveredOnceWhenBothAreBack()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        PostfixInstance.SkipUnlessAvailable();
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();
        await clamd.StopAsync();

        await using MilterDeployment deployment = await MilterDeployment.StartPostfixAsync();
        PostfixInstance postfix = deployment.Postfix;
        ContentFilterProcess filter = deployment.Filter;
        filter
            .Set("Antivirus:Enabled", true)
            .Set("Antivirus:Servers", new JsonArray(clamd.UnixAddress))
            .Set("Antivirus:ConnectTimeout", "00:00:02");
        byte[] message = EndToEndMessages.WithAttachment("report", "<m-down.1@example.org>", "report.txt", "quarterly numbers");

        // No milter listening: Postfix's default_action answers for it (at MAIL FROM, the first command it asks the milter about).
        var (client, _) = await RawSmtpClient.ConnectAsync(postfix.SmtpPort);
        await using (client)
        {
            await client.EhloAsync("client.example.org");
            SmtpReply noMilter = await client.CommandAsync("MAIL FROM:<alice@example.org>");
            Assert.True(noMilter.Code / 100 == 4, $"milter down: {noMilter}\n{postfix.Diagnostics()}");
        }

        // The milter is there, its virus scanner is not: fail closed with our own 4xx.
        await filter.StartAsync();
        SmtpReply noScanner = await SendAsync(postfix, message);
        Assert.True(noScanner.Code == 451, $"clamd down: {noScanner}\n{filter.Diagnostics()}");
        Assert.Empty(await postfix.ListQueueAsync());

        // The client's retry once both are back: delivered, once, scanned.
        await clamd.RestartAsync();
        SmtpReply retried = await SendAsync(postfix, message);
        Assert.True(retried.Code == 250, $"retry: {retried}\n{filter.Diagnostics()}");
        await postfix.WaitForDeliveriesAsync(1, Deadline);
        await postfix.WaitForEmptyQueueAsync(Deadline);
        byte[] delivered = Assert.Single(postfix.DeliveredFiles().Select(File.ReadAllBytes));
        Assert.NotNull(EndToEndMessages.Header(delivered, "X-Virus-Scanned"));
        IReadOnlyList<JsonObject> audit = await filter.WaitForAuditRecordsAsync(2, TimeSpan.FromSeconds(15));
        Assert.StartsWith("TempFailed", audit[0]["Action"]?.GetValue<string>());
        Assert.Equal("Passed", audit[1]["Disposition"]?.GetValue<string>());
    }
}
