using System.Text;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Messages;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.Proxy;

/// <summary>
/// Issue #3 end to end: a real private Postfix, the real contentfilter process as its after-queue content filter,
/// and Postfix's reinjection smtpd as the next hop, delivering into a maildir. All checks are off, so the filter
/// must add nothing and change nothing.
/// </summary>
public sealed class ProxyEndToEndTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [SkippableTheory]
    [MemberData(nameof(SampleMessage.Files), MemberType = typeof(SampleMessage))]
    public async Task Proxy_ThroughPostfix_DeliversSampleByteExactApartFromPostfixTraceHeaders(string file)
    {
        SampleMessage message = SampleMessage.Get(file);
        await using FilterChain chain = await FilterChain.StartAsync();

        string queueId = await chain.SubmitAsync(message);

        IReadOnlyList<byte[]> delivered = await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        Assert.Single(chain.Postfix.DeliveredFiles());
        DeliveryComparison c = DeliveredMessage.Compare(message.Bytes(), delivered[0], DeliveredMessage.PostfixTraceFields);
        Assert.True(c.Intact, c.Problem + "\n" + chain.Diagnostics());
        // It really went through the filter: Postfix handed it to cfilter, and two smtpds (front and reinjection) stamped it.
        Assert.Contains(chain.Postfix.LogLines(l => l.Contains($" {queueId}: to=", StringComparison.Ordinal)), l => l.Contains("/cfilter/", StringComparison.Ordinal) && l.Contains("status=sent", StringComparison.Ordinal));
        Assert.Equal(2, c.AddedFields.Count(f => f.StartsWith("Received:", StringComparison.Ordinal)));
    }

    [SkippableFact]
    public async Task Proxy_OneMessage_LeavesExactlyOneAuditRecord()
    {
        SampleMessage message = SampleMessage.Get("7bit.eml");
        await using FilterChain chain = await FilterChain.StartAsync();

        await chain.SubmitAsync(message);
        await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);

        var records = await chain.Filter.WaitForAuditRecordsAsync(1, TimeSpan.FromSeconds(15));
        var record = Assert.Single(records);
        Assert.Equal(message.Sender, record["Sender"]?.GetValue<string>());
        Assert.Contains(message.Recipient, record["Recipients"]!.AsArray().Select(r => r?.GetValue<string>()));
    }

    [SkippableFact]
    public async Task Proxy_NextHopDown_PostfixDefersThenDeliversExactlyOnceAfterFlush()
    {
        SampleMessage message = SampleMessage.Get("8bit-utf8.eml");
        await using FilterChain chain = await FilterChain.StartAsync(startFilter: false);
        await chain.Postfix.SetReinjectionEnabledAsync(false);
        await chain.Filter.StartAsync();

        string queueId = await chain.SubmitAsync(message);

        string deferral = await chain.WaitForFilterDeferralAsync(queueId, Deadline);
        Assert.True(deferral.Contains("said: 4", StringComparison.Ordinal), "the filter must answer 4xx while its next hop is down: " + deferral);
        Assert.Empty(chain.Postfix.DeliveredFiles());
        PostfixQueueEntry kept = Assert.Single(await chain.Postfix.ListQueueAsync());
        Assert.Equal(queueId, kept.QueueId);

        await chain.Postfix.SetReinjectionEnabledAsync(true);
        await chain.Postfix.FlushAsync();

        IReadOnlyList<byte[]> delivered = await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        Assert.Single(chain.Postfix.DeliveredFiles());
        DeliveryComparison c = DeliveredMessage.Compare(message.Bytes(), delivered[0], DeliveredMessage.PostfixTraceFields);
        Assert.True(c.Intact, c.Problem + "\n" + chain.Diagnostics());
    }

    [SkippableFact]
    public async Task Proxy_NextHopEndpointClosed_FilterAnswers4xxDirectly()
    {
        await using FilterChain chain = await FilterChain.StartAsync(startFilter: false);
        chain.Filter.SetNextHopPort(Testing.TestPaths.FreePort());
        await chain.Filter.StartAsync();

        await AssertFilterTempFailsAsync(chain.Filter.InboundPort, SampleMessage.Get("7bit.eml"));
    }

    public static TheoryData<string> NextHopRefusals => new()
    {
        "smtpd_recipient_restrictions=defer",
        "smtpd_data_restrictions=defer",
        "smtpd_end_of_data_restrictions=defer",
    };

    [SkippableTheory]
    [MemberData(nameof(NextHopRefusals))]
    public async Task Proxy_NextHopRefusesWith4xx_FilterAnswers4xxAndPostfixKeepsMail(string refusal)
    {
        SampleMessage message = SampleMessage.Get("7bit.eml");
        await using FilterChain chain = await FilterChain.StartAsync(p => p.ReinjectionOverrides.Add(refusal));

        string queueId = await chain.SubmitAsync(message);

        string deferral = await chain.WaitForFilterDeferralAsync(queueId, Deadline);
        Assert.True(deferral.Contains("said: 4", StringComparison.Ordinal), "the filter must pass on a temporary failure as 4xx: " + deferral);
        PostfixQueueEntry kept = Assert.Single(await chain.Postfix.ListQueueAsync());
        Assert.Equal(queueId, kept.QueueId);
        Assert.Empty(chain.Postfix.DeliveredFiles());

        // The same seen by a client of the filter itself: a 4xx somewhere, never 2xx for the message, never 5xx.
        await AssertFilterTempFailsAsync(chain.Filter.InboundPort, message);
        Assert.Empty(chain.Postfix.DeliveredFiles());
    }

    [SkippableFact]
    public async Task Proxy_KilledWithSigkillMidData_DeliveredExactlyOnceAfterRestartAndFlush()
    {
        // Postfix reaches the filter through a relay that passes 8 MB of the 40 MB transfer and holds the rest, so the
        // kill lands mid-DATA however fast the machine is (polling the filter's reads alone raced a fast transfer).
        const long PassedBeforeHold = 8_000_000;
        await using var relay = new HoldingRelay(PassedBeforeHold);
        await using FilterChain chain = await FilterChain.StartAsync(
            p =>
            {
                p.MessageSizeLimit = 200_000_000;
                relay.TargetPort = p.ContentFilterPort!.Value;
                p.ContentFilterPort = relay.Port;
            },
            f => f.Set("Limits:MaxMessageSize", 200_000_000));
        string path = Path.Combine(chain.Filter.RootDirectory, "big.eml");
        LargeMessage.Write(path, 40_000_000);

        string queueId;
        await using (FileStream stream = File.OpenRead(path))
        {
            queueId = await chain.SubmitAsync("big@example.org", "user@dest.test", stream);
        }
        long passed = await relay.Held.WaitAsync(Deadline);
        Assert.Equal(PassedBeforeHold, passed);

        // Kill once the filter has spooled half of what reached it: it is in the body, far from the dot.
        long spooledWhenKilled = -1;
        DateTime deadline = DateTime.UtcNow + Deadline;
        while (DateTime.UtcNow < deadline)
        {
            long spooled = chain.Filter.SpoolFiles().Sum(f => f.Length);
            if (spooled > PassedBeforeHold / 2)
            {
                chain.Filter.Kill();
                spooledWhenKilled = spooled;
                break;
            }
            await Task.Delay(2);
        }
        Assert.True(spooledWhenKilled > 0, "the filter never spooled the message\n" + chain.Diagnostics());
        relay.Release();

        await chain.WaitForFilterDeferralAsync(queueId, Deadline);
        Assert.Empty(chain.Postfix.DeliveredFiles());

        await chain.Filter.StartAsync();
        await chain.Postfix.FlushAsync();

        await chain.Postfix.WaitForDeliveriesAsync(1, TimeSpan.FromSeconds(120));
        await chain.Postfix.WaitForEmptyQueueAsync(TimeSpan.FromSeconds(120));
        Assert.Single(chain.Postfix.DeliveredFiles());
        DeliveryComparison c = DeliveredMessage.Compare(File.ReadAllBytes(path), File.ReadAllBytes(chain.Postfix.DeliveredFiles()[0]), DeliveredMessage.PostfixTraceFields);
        Assert.True(c.Intact, c.Problem);
    }

    [SkippableFact]
    public async Task Proxy_HundredMegabyteMessageSentDirect_PeakRssStaysUnder150MiB()
    {
        const long MiB = 1024 * 1024;
        await using FilterChain chain = await FilterChain.StartAsync(
            p => p.MessageSizeLimit = 300_000_000,
            f => f.Set("Limits:MaxMessageSize", 300_000_000));
        string path = Path.Combine(chain.Filter.RootDirectory, "100mb.eml");
        LargeMessage.Write(path, 100 * MiB);

        SmtpReply reply;
        RssSampler sampler = chain.Filter.StartRssSampler();
        await using (sampler)
        {
            var (client, _) = await RawSmtpClient.ConnectAsync(chain.Filter.InboundPort);
            await using (client)
            {
                await client.EhloAsync();
                await using FileStream stream = File.OpenRead(path);
                reply = await client.SendMailAsync("big@example.org", ["user@dest.test"], stream);
                await client.QuitAsync();
            }
            Assert.True(reply.Code == 250, $"{reply}\n{chain.Diagnostics()}");
            await chain.Postfix.WaitForDeliveriesAsync(1, TimeSpan.FromSeconds(180));
        }

        Assert.True(sampler.PeakBytes > 0, "no RSS sample");
        Assert.True(sampler.PeakBytes < 150 * MiB, $"peak RSS {sampler.PeakBytes / MiB} MiB for a 100 MiB message");
        await chain.Postfix.WaitForEmptyQueueAsync(TimeSpan.FromSeconds(60));
        DeliveryComparison c = DeliveredMessage.Compare(File.ReadAllBytes(path), File.ReadAllBytes(chain.Postfix.DeliveredFiles()[0]), DeliveredMessage.PostfixTraceFields);
        Assert.True(c.Intact, c.Problem);
    }

    public static TheoryData<string, string> SmugglingSequences => new()
    {
        { "LF.LF", "\n.\n" },
        { "CR.CR", "\r.\r" },
        { "LF.CRLF", "\n.\r\n" },
        { "CR.LF", "\r.\n" },
        { "CRLF.LF", "\r\n.\n" },
    };

    [SkippableTheory]
    [MemberData(nameof(SmugglingSequences))]
    public async Task Proxy_SmugglingSequenceSentRaw_AtMostOneMessageReachesNextHop(string name, string sequence)
    {
        await using FilterChain chain = await FilterChain.StartAsync();
        var (client, _) = await RawSmtpClient.ConnectAsync(chain.Filter.InboundPort);
        var afterData = new List<SmtpReply>();
        await using (client)
        {
            client.ReplyTimeout = TimeSpan.FromSeconds(60);
            await client.EhloAsync("attacker.test");
            Assert.Equal(250, (await client.CommandAsync("MAIL FROM:<alice@example.org>")).Code);
            Assert.Equal(250, (await client.CommandAsync("RCPT TO:<user@dest.test>")).Code);
            Assert.Equal(354, (await client.CommandAsync("DATA")).Code);
            string payload =
                "From: alice@example.org\r\nTo: user@dest.test\r\nSubject: carrier " + name + "\r\nMessage-ID: <carrier@example.org>\r\n\r\n" +
                "carrier body" + sequence +
                "MAIL FROM:<evil@example.org>\r\nRCPT TO:<user@dest.test>\r\nDATA\r\n" +
                "From: evil@example.org\r\nTo: user@dest.test\r\nSubject: smuggled\r\n\r\nsmuggled body\r\n.\r\n";
            await client.WriteAsync(payload);
            SmtpReply? r;
            while ((r = await client.TryReadReplyAsync()) is not null)
            {
                afterData.Add(r);
                if (afterData.Count == 1)
                {
                    await client.WriteAsync("QUIT\r\n");
                }
                if (r.Code == 221)
                {
                    break;
                }
            }
        }
        Assert.True(afterData.Count >= 1, "no reply to the end of DATA");
        Assert.True(afterData.Count(r => r.Code != 221) == 1, $"the filter answered more than the one DATA (smuggled commands were executed): {string.Join(" | ", afterData)}");

        // A clean marker message afterwards; once it is delivered and the queue is empty, everything has arrived.
        await SendDirectAsync(chain.Filter.InboundPort, "Subject: marker\r\n\r\nmarker\r\n");
        await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        List<string> others = chain.Postfix.DeliveredFiles().Select(f => Encoding.UTF8.GetString(File.ReadAllBytes(f)))
            .Where(m => !m.Contains("Subject: marker\n", StringComparison.Ordinal)).ToList();
        Assert.True(others.Count <= 1, $"{others.Count} messages reached the next hop from one DATA");
        Assert.DoesNotContain(others, m => m.StartsWith("Return-Path: <evil@example.org>", StringComparison.Ordinal));
        if (afterData[0].IsPositiveCompletion)
        {
            string carrier = Assert.Single(others);
            Assert.StartsWith("Return-Path: <alice@example.org>", carrier, StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(others);
        }
    }

    private static async Task SendDirectAsync(int port, string message)
    {
        var (client, _) = await RawSmtpClient.ConnectAsync(port);
        await using (client)
        {
            await client.EhloAsync();
            SmtpReply reply = await client.SendMailAsync("marker@example.org", ["user@dest.test"], Encoding.ASCII.GetBytes(message));
            Assert.Equal(250, reply.Code);
            await client.QuitAsync();
        }
    }

    /// <summary>Runs one transaction against the filter and asserts it was refused temporarily: some 4xx, no 5xx, no 2xx for the message.</summary>
    private static async Task AssertFilterTempFailsAsync(int port, SampleMessage message)
    {
        var (client, greeting) = await RawSmtpClient.ConnectAsync(port);
        await using (client)
        {
            Assert.Equal(220, greeting.Code);
            await client.EhloAsync();
            SmtpReply? tempFail = null;
            SmtpReply mail = await client.CommandAsync($"MAIL FROM:<{message.Sender}>");
            if (!Step(mail, 250, ref tempFail))
            {
                SmtpReply rcpt = await client.CommandAsync($"RCPT TO:<{message.Recipient}>");
                if (!Step(rcpt, 250, ref tempFail))
                {
                    SmtpReply data = await client.CommandAsync("DATA");
                    if (!Step(data, 354, ref tempFail))
                    {
                        await client.WriteAsync(RawSmtpClient.DotStuff(message.Bytes()));
                        SmtpReply final = await client.ReadReplyAsync();
                        Step(final, 0, ref tempFail);
                    }
                }
            }
            Assert.True(tempFail is not null, "expected a 4xx reply; transcript: " + string.Join(" | ", client.Transcript));
            await client.QuitAsync();
        }

        static bool Step(SmtpReply reply, int proceed, ref SmtpReply? tempFail)
        {
            if (reply.Code == proceed)
            {
                return false;
            }
            Assert.False(reply.IsPositiveCompletion, $"the filter accepted the message although its next hop did not: {reply}");
            Assert.False(reply.IsPermanentFailure, $"a temporary next-hop problem must not become a permanent refusal: {reply}");
            tempFail = reply;
            return true;
        }
    }
}
