using System.Text;
using ContentFilter.IntegrationTests.EndToEnd;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.Proxy;

/// <summary>
/// One message for several recipients when the next hop (Postfix's reinjection smtpd) refuses some of them, through
/// the SMTP feed (one reply for the message: the filter bounces the refused recipients itself) and the LMTP feed
/// (a reply per recipient after the dot: Postfix bounces, defers and delivers each on its own).
/// </summary>
public sealed class RecipientsEndToEndTests
{
    private const string Sender = "sender@dest.test"; // bounces come back into the maildir
    private const string Delivered = "user@dest.test";
    private const string Refused = "refused@dest.test";
    private const string Deferred = "later@dest.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task SmtpFeed_NextHopRefusesOneRecipient_OthersDeliveredOnceAndTheFilterBouncesTheRefusedOne()
    {
        await using FilterChain chain = await FilterChain.StartAsync(configurePostfix: p => RefuseAtNextHop(p, $"{Refused}=REJECT"));

        string queueId = await chain.SubmitAsync(Sender, [Delivered, Refused], Message("<rcpts.smtp@dest.test>"));

        // One reply covers the message: 250 for the delivered recipient, and the filter's own DSN for the refused
        // one (as amavisd-new does), so Postfix logs both as sent to the filter and keeps nothing.
        IReadOnlyList<byte[]> files = await chain.Postfix.WaitForDeliveriesAsync(2, Deadline);
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        Assert.Equal(2, chain.Postfix.DeliveredFiles().Count);
        string[] lines = [.. chain.Postfix.LogLines(l => l.Contains($" {queueId}: to=", StringComparison.Ordinal) && l.Contains("/cfilter/", StringComparison.Ordinal))];
        Assert.True(lines.Length == 2 && lines.All(l => l.Contains("status=sent", StringComparison.Ordinal)), string.Join("\n", lines) + "\n" + chain.Diagnostics());

        string message = Assert.Single(files.Select(Text), t => t.Contains("Message-ID: <rcpts.smtp@dest.test>", StringComparison.Ordinal) && !t.Contains("report-type=delivery-status", StringComparison.Ordinal));
        Assert.Contains($"Delivered-To: {Delivered}", message);
        string dsn = Assert.Single(files.Select(Text), t => t.Contains("report-type=delivery-status", StringComparison.Ordinal));
        Assert.Contains($"Final-Recipient: rfc822; {Refused}", dsn);
        Assert.Contains("Action: failed", dsn);
        Assert.DoesNotContain($"Final-Recipient: rfc822; {Delivered}", dsn);
        Assert.Contains("Reporting-MTA: dns; filter.test", dsn); // the filter's notice (its HostName), not a Postfix bounce
    }

    [SkippableFact]
    public async Task LmtpFeed_NextHopRefusesOneAndDefersAnother_PostfixBouncesDefersAndDeliversEachOnItsOwn()
    {
        await using FilterChain chain = await FilterChain.StartAsync(
            configurePostfix: p =>
            {
                p.FilterTransport = "lmtp";
                RefuseAtNextHop(p, $"{Refused}=REJECT,{Deferred}=DEFER");
            },
            configureFilter: f => f.Set("Listeners:inbound:Protocol", "Lmtp"));

        string queueId = await chain.SubmitAsync(Sender, [Delivered, Refused, Deferred], Message("<rcpts.lmtp@dest.test>"));

        // A reply per recipient after the dot (RFC 2033): Postfix delivers, bounces and defers each on its own.
        await Poll.UntilAsync(() => Outcomes(chain, queueId).Length == 3, Deadline, "the three recipients' outcomes at the filter\n" + chain.Diagnostics(), TimeSpan.FromMilliseconds(100));
        string[] outcomes = Outcomes(chain, queueId);
        Assert.Contains(outcomes, l => l.Contains($"to=<{Delivered}>", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal));
        Assert.Contains(outcomes, l => l.Contains($"to=<{Refused}>", StringComparison.Ordinal) && l.Contains("status=bounced", StringComparison.Ordinal) && l.Contains("said: 554", StringComparison.Ordinal));
        Assert.Contains(outcomes, l => l.Contains($"to=<{Deferred}>", StringComparison.Ordinal) && l.Contains("status=deferred", StringComparison.Ordinal) && l.Contains("said: 45", StringComparison.Ordinal));

        // Postfix's own bounce for the refused recipient reaches the sender; the deferred recipient stays queued.
        IReadOnlyList<byte[]> files = await chain.Postfix.WaitForDeliveriesAsync(2, Deadline);
        string bounce = Assert.Single(files.Select(Text), t => t.Contains("report-type=delivery-status", StringComparison.Ordinal));
        Assert.Contains("Reporting-MTA: dns; mx.postfix.test", bounce); // Postfix's own bounce
        Assert.Contains($"Final-Recipient: rfc822; {Refused}", bounce);
        Assert.Contains(queueId, (await chain.Postfix.ListQueueAsync()).Select(e => e.QueueId));

        // The retry goes to the deferred recipient alone: the delivered one gets no second copy.
        await chain.Postfix.FlushAsync();
        await Poll.UntilAsync(() => Outcomes(chain, queueId).Count(l => l.Contains($"to=<{Deferred}>", StringComparison.Ordinal)) >= 2, Deadline, "the retry of the deferred recipient", TimeSpan.FromMilliseconds(100));
        Assert.Single(Outcomes(chain, queueId), l => l.Contains($"to=<{Delivered}>", StringComparison.Ordinal));
        Assert.Single(chain.Postfix.DeliveredFiles().Select(File.ReadAllText), t => t.Contains("Message-ID: <rcpts.lmtp@dest.test>", StringComparison.Ordinal) && !t.Contains("report-type=delivery-status", StringComparison.Ordinal));
        Assert.Equal(2, chain.Postfix.DeliveredFiles().Count);
    }

    /// <summary>The reinjection smtpd refuses (REJECT) or defers (DEFER) the listed recipients, as a next hop with per-recipient restrictions would.</summary>
    private static void RefuseAtNextHop(PostfixOptions postfix, string accessEntries) =>
        postfix.ReinjectionOverrides.Add($"smtpd_recipient_restrictions=check_recipient_access,inline:{{{accessEntries}}},permit_mynetworks,reject");

    private static string[] Outcomes(FilterChain chain, string queueId) =>
        [.. chain.Postfix.LogLines(l => l.Contains($" {queueId}: to=", StringComparison.Ordinal) && l.Contains("/cfilter/", StringComparison.Ordinal))];

    private static MemoryStream Message(string messageId) =>
        new(EndToEndMessages.Plain($"Sender <{Sender}>", "several recipients", messageId, "one message, three fates\r\n"), writable: false);

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
