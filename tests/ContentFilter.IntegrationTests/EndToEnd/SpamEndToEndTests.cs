using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.EndToEnd;

/// <summary>
/// Spam scoring end to end: Postfix, the contentfilter process and a real spamd (one per class: slow to start).
/// The kill level is raised above GTUBE's 1000 points so the spam is delivered tagged instead of discarded.
/// </summary>
public sealed class SpamEndToEndTests : IClassFixture<SpamdInstance>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly SpamdInstance _spamd;

    public SpamEndToEndTests(SpamdInstance spamd) => _spamd = spamd;

    [SkippableFact]
    public async Task Gtube_ThroughPostfixAndSpamd_DeliveredWithSpamFlagAndSubjectTagWhileCleanMailIsFlaggedNo()
    {
        Skip.IfNot(SpamdInstance.IsAvailable, "spamd not installed");
        await _spamd.StartAsync();
        await using FilterChain chain = await FilterChain.StartAsync(configureFilter: f => f
            .Set("Spam:Enabled", true)
            .Set("Spam:Servers", new JsonArray(_spamd.Address))
            .Set("Verdict:SpamKillLevel", 2000)
            .Set("Verdict:SpamTag2Level", 5));

        await chain.SubmitAsync("alice@example.org", "user@dest.test",
            EndToEndMessages.Plain("Alice <alice@example.org>", "gtube", "<gtube.1@example.org>", "Buy now.\r\n" + EndToEndMessages.Gtube + "\r\n"));
        await chain.SubmitAsync("alice@example.org", "user@dest.test",
            EndToEndMessages.Plain("Alice <alice@example.org>", "lunch", "<ham.1@example.org>", "Shall we meet for lunch on Thursday at noon?\r\n"));

        await chain.Postfix.WaitForDeliveriesAsync(2, Deadline);
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        Assert.Equal(2, chain.Postfix.DeliveredFiles().Count);

        byte[] spam = EndToEndMessages.ByMessageId(chain.Postfix, "<gtube.1@example.org>");
        Assert.True(EndToEndMessages.Header(spam, "X-Spam-Flag") == "YES", "GTUBE not flagged:\n" + string.Join('\n', EndToEndMessages.HeaderFields(spam)) + "\n" + chain.Diagnostics());
        Assert.Equal("***SPAM*** gtube", EndToEndMessages.Header(spam, "Subject"));
        Assert.Single(EndToEndMessages.HeaderFields(spam), f => f.StartsWith("Subject:", StringComparison.OrdinalIgnoreCase));
        Assert.Contains("GTUBE", EndToEndMessages.Header(spam, "X-Spam-Status") ?? "");

        byte[] ham = EndToEndMessages.ByMessageId(chain.Postfix, "<ham.1@example.org>");
        Assert.True(EndToEndMessages.Header(ham, "X-Spam-Flag") == "NO", "clean mail not flagged NO:\n" + string.Join('\n', EndToEndMessages.HeaderFields(ham)));
        Assert.Equal("lunch", EndToEndMessages.Header(ham, "Subject"));
        Assert.StartsWith("No", EndToEndMessages.Header(ham, "X-Spam-Status") ?? "");
    }
}
