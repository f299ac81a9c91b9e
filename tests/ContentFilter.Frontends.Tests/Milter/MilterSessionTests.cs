using System.Buffers;
using System.Text;
using ContentFilter.Frontends.Milter;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Milter;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Frontends.Tests.Milter;

public sealed class MilterSessionTests
{
    private static async Task<MilterReply.OptNeg> NegotiateAsync(MilterTestClient client, MilterCommand.OptNeg? offer = null)
    {
        await client.SendAsync(offer ?? Postfix.Offer);
        return Assert.IsType<MilterReply.OptNeg>(await client.ReadAsync());
    }

    private static async Task QuitAsync(MilterTestClient client, Task session)
    {
        await client.SendAsync(new MilterCommand.Quit());
        Assert.True(await client.ClosedAsync());
        await session.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Negotiate_PostfixOffer_AnswersVersion6OurActionsNoReplyBitsAndMacros()
    {
        using var h = new MilterHarness();
        (MilterTestClient client, Task session, _) = h.Connect();

        MilterReply.OptNeg reply = await NegotiateAsync(client);

        Assert.Equal(6u, reply.Version);
        Assert.Equal(MilterActions.AddHeaders | MilterActions.ChangeHeaders | MilterActions.Quarantine | MilterActions.SetSymbolList, reply.Actions);
        Assert.True(reply.Protocol.HasFlag(MilterProtocol.HeaderLeadingSpace));
        Assert.True(reply.Protocol.HasFlag(MilterProtocol.NoReplyHeader));
        Assert.True(reply.Protocol.HasFlag(MilterProtocol.NoReplyBody));
        Assert.True(reply.Protocol.HasFlag(MilterProtocol.NoUnknown));
        Assert.False(reply.Protocol.HasFlag(MilterProtocol.NoHeaders));
        Assert.False(reply.Protocol.HasFlag(MilterProtocol.NoBody));
        Assert.Contains(reply.MacroLists, l => l.Key == MilterMacroStage.Connect && l.Value.Split(' ').Contains("{daemon_name}") && l.Value.Split(' ').Contains("{client_addr}"));
        Assert.Contains(reply.MacroLists, l => l.Key == MilterMacroStage.EnvFrom && l.Value.Split(' ').Contains("{auth_authen}"));
        Assert.Contains(reply.MacroLists, l => l.Key == MilterMacroStage.EndOfMessage && l.Value == "i");
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Negotiate_OfferWithoutOptionalBits_AsksOnlyForWhatWasOffered()
    {
        using var h = new MilterHarness();
        (MilterTestClient client, Task session, _) = h.Connect();

        MilterReply.OptNeg reply = await NegotiateAsync(client, new MilterCommand.OptNeg(2, MilterActions.AddHeaders | MilterActions.ChangeHeaders, MilterProtocol.None));

        Assert.Equal(2u, reply.Version);
        Assert.Equal(MilterActions.AddHeaders | MilterActions.ChangeHeaders, reply.Actions);
        Assert.Equal(MilterProtocol.None, reply.Protocol);
        Assert.Empty(reply.MacroLists);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Message_WithoutNoReplyBits_EveryStepAnsweredContinue()
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client, new MilterCommand.OptNeg(6, (MilterActions)0x1ff, MilterProtocol.None));

        foreach (MilterCommand c in Postfix.Envelope().Concat(Postfix.Content()).Where(c => c is not MilterCommand.Macro))
        {
            await client.SendAsync(c);
            MilterReply reply = await client.ReadAsync() ?? throw new EndOfStreamException();
            Assert.Equal(MilterReplyCode.Continue, reply.Code);
        }
        Assert.Single(check.Spools);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Message_HeadersWithLeadingSpaceAndFolding_SpooledByteExactWithCrlf()
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content("Body line 1\r\n\r\nline 3\r\n",
            ("From", " <sender@example.com>"), ("Subject", " folded\n\tsecond line"), ("X-Tight", "no-space"), ("X-Tab", "\tvalue ")));
        List<MilterReply> replies = await client.ReadEndOfMessageAsync();

        Assert.Equal(MilterReplyCode.Continue, replies[^1].Code);
        string expected = "From: <sender@example.com>\r\nSubject: folded\r\n\tsecond line\r\nX-Tight:no-space\r\nX-Tab:\tvalue \r\n\r\nBody line 1\r\n\r\nline 3\r\n";
        Assert.Equal(expected, Encoding.UTF8.GetString(Assert.Single(check.Spools)));
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Message_WithoutLeadingSpaceOption_PutsBackTheSpacePostfixAte()
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client, new MilterCommand.OptNeg(6, (MilterActions)0x1ff, (MilterProtocol)0x1fffff & ~MilterProtocol.HeaderLeadingSpace));

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content("x\r\n", ("Subject", "hello")));
        await client.ReadEndOfMessageAsync();

        Assert.Equal("Subject: hello\r\n\r\nx\r\n", Encoding.UTF8.GetString(Assert.Single(check.Spools)));
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Message_Envelope_BuiltFromCommandsAndMacros()
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope("<sender@example.com>", "<a@example.org>", "<b@example.org>"));
        await client.SendAsync(Postfix.Content());
        await client.ReadEndOfMessageAsync();

        MessageContext context = Assert.Single(check.Contexts);
        Assert.Equal("sender@example.com", context.Envelope.MailFrom);
        Assert.Equal(["BODY=8BITMIME"], context.Envelope.MailParameters);
        Assert.Equal(["a@example.org", "b@example.org"], context.Envelope.Recipients.Select(r => r.Address));
        Assert.Equal("192.0.2.7", context.Envelope.Client.Address?.ToString());
        Assert.Equal(40000, context.Envelope.Client.Port);
        Assert.Equal("client.example.com", context.Envelope.Client.Name);
        Assert.Equal("client.example.com", context.Envelope.Client.Helo);
        Assert.Equal("4XyZ1234", context.Envelope.QueueId);
        Assert.Equal(FrontDoor.Milter, context.Door);
        Assert.Equal(MessageDirection.Inbound, context.Direction);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Message_NullSenderAndUnknownClientName_Normalised()
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(new MilterCommand.Connect("[192.0.2.9]", '4', 1234, "192.0.2.9"), new MilterCommand.Mail("<>", []), new MilterCommand.Rcpt("<a@example.org>", []));
        await client.SendAsync(Postfix.Content());
        await client.ReadEndOfMessageAsync();

        MessageContext context = Assert.Single(check.Contexts);
        Assert.True(context.Envelope.IsNullSender);
        Assert.Null(context.Envelope.Client.Name);
        Assert.Equal("192.0.2.9", context.Envelope.Client.Address?.ToString());
        await QuitAsync(client, session);
    }

    [Theory]
    [InlineData("{auth_authen}", "alice", "mx.example.org", MessageDirection.Originating)]
    [InlineData("{auth_type}", "PLAIN", "ORIGINATING", MessageDirection.Originating)]
    [InlineData("{auth_authen}", "", "mx.example.org", MessageDirection.Inbound)]
    public async Task Message_AuthOrDaemonName_DecidesDirection(string macro, string value, string daemonName, MessageDirection expected)
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(
            new MilterCommand.Macro(MilterCommandCode.Connect, [new("{daemon_name}", daemonName)]),
            new MilterCommand.Connect("localhost", '4', 1, "127.0.0.1"),
            new MilterCommand.Macro(MilterCommandCode.Mail, [new(macro, value)]),
            new MilterCommand.Mail("<a@example.com>", []),
            new MilterCommand.Rcpt("<b@example.org>", []));
        await client.SendAsync(Postfix.Content());
        await client.ReadEndOfMessageAsync();

        MessageContext context = Assert.Single(check.Contexts);
        Assert.Equal(expected, context.Direction);
        Assert.Equal(expected, context.Listener.Direction);
        Assert.Equal(expected == MessageDirection.Originating && macro == "{auth_authen}" ? "alice" : null, context.Envelope.AuthenticatedUser);
        AuditRecord audit = Assert.Single(h.Audit.Records);
        Assert.EndsWith(expected == MessageDirection.Originating ? "Outbound" : "Inbound", audit.Action);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Deliver_HeaderEdits_InsertAtIndexesInOrderThenChangeAndDelete()
    {
        var finisher = new EditsFinisher(v =>
        {
            v.Edits.Add("Authentication-Results", "mx.example.org;\r\n\tspf=pass smtp.mailfrom=example.com");
            v.Edits.Add("X-Second", "2");
            v.Edits.Add("X-Third", "3");
            v.Edits.Remove("X-Old", 2);
            v.Edits.Change("Subject", 1, "[tag] test");
        });
        using var h = new MilterHarness(checks: [FakeCheck.Clean()], finishers: [finisher]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        List<MilterReply> replies = await client.ReadEndOfMessageAsync();

        Assert.Equal(
            new MilterReply[]
            {
                new MilterReply.InsertHeader(0, "Authentication-Results", " mx.example.org;\n\tspf=pass smtp.mailfrom=example.com"),
                new MilterReply.InsertHeader(1, "X-Second", " 2"),
                new MilterReply.InsertHeader(2, "X-Third", " 3"),
                new MilterReply.ChangeHeader(2, "X-Old", ""),
                new MilterReply.ChangeHeader(1, "Subject", " [tag] test"),
                MilterReply.Continue,
            },
            replies);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Deliver_AuthResult_InsertsOneAuthenticationResultsAtTop()
    {
        var spf = new FakeCheck("spf", (_, _) => ValueTask.FromResult<CheckResult>(new AuthResult
        {
            Check = "spf",
            Status = CheckStatus.Ok,
            Results = [new AuthMethodResult("spf", "pass", null, [new("smtp.mailfrom", "example.com")])],
        }));
        using var h = new MilterHarness(checks: [spf]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        List<MilterReply> replies = await client.ReadEndOfMessageAsync();

        MilterReply.InsertHeader ar = Assert.IsType<MilterReply.InsertHeader>(replies[0]);
        Assert.Equal(0u, ar.Index);
        Assert.Equal("Authentication-Results", ar.Name);
        Assert.Contains("spf=pass", ar.Value);
        Assert.StartsWith(" mx.example.org;", ar.Value);
        Assert.Equal(MilterReplyCode.Continue, replies[^1].Code);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Deliver_SignedAndVerified_AuditRecordCarriesDkimNewAndDkimValid()
    {
        // The signer reports what it added (amavis's dkim_new); a verified signature is dkim_sd, as on the proxy.
        var verify = new FakeCheck("dkim", (_, _) => ValueTask.FromResult<CheckResult>(new AuthResult
        {
            Check = "dkim",
            Status = CheckStatus.Ok,
            Results = [new AuthMethodResult("dkim", "pass", null, [new("header.d", "example.com"), new("header.s", "up")])],
        }));
        var signer = new SignResultFinisher(["rsa:example.org", "ed:example.org"]);
        using var h = new MilterHarness(checks: [verify], finishers: [signer]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        await client.ReadEndOfMessageAsync();

        AuditRecord audit = Assert.Single(h.Audit.Records);
        Assert.Equal(["rsa:example.org", "ed:example.org"], audit.DkimNew);
        Assert.Equal(["up:example.com"], audit.DkimValid);
        string line = AmavisLogLine.Format(audit);
        Assert.Contains(", dkim_sd=up:example.com, dkim_new=rsa:example.org,ed:example.org, ", line);
        Assert.Equal("ok", audit.Checks["dkim-sign"]);
        await QuitAsync(client, session);
    }

    private sealed class SignResultFinisher(IReadOnlyList<string> signatures) : IMessageFinisher
    {
        public string Name => "dkim-sign";

        public ValueTask<CheckResult?> FinishAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken)
        {
            foreach (string s in signatures)
            {
                verdict.Edits.AddOnTop("DKIM-Signature", "v=1; s=" + s);
            }
            return ValueTask.FromResult<CheckResult?>(new DkimSignResult { Check = Name, Status = CheckStatus.Ok, Signatures = signatures });
        }
    }

    [Fact]
    public async Task Virus_RejectedWithOurCodeAndOneAuditRecord()
    {
        using var h = new MilterHarness(checks: [FakeCheck.Virus()], policy: new VerdictPolicyOptions { HostName = "mx", QuarantineBlocked = false });
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        List<MilterReply> replies = await client.ReadEndOfMessageAsync();

        MilterReply.ReplyCode reject = Assert.IsType<MilterReply.ReplyCode>(Assert.Single(replies));
        Assert.StartsWith("554 5.7.1 ", reject.Text);
        Assert.Contains("Eicar-Test-Signature", reject.Text);
        AuditRecord audit = Assert.Single(h.Audit.Records);
        Assert.Equal("milter", audit.Door);
        Assert.Equal("Blocked", audit.Disposition);
        Assert.Equal("INFECTED (Eicar-Test-Signature)", audit.Category);
        Assert.Equal("RejectedInbound", audit.Action);
        Assert.Equal("4XyZ1234", audit.QueueId);
        Assert.Equal(reject.Text, audit.Reply);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task ScannerFailure_TempFailWith451()
    {
        var broken = new FakeCheck("clamav", (_, _) => throw new IOException("clamd is down"));
        using var h = new MilterHarness(checks: [broken]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        MilterReply.ReplyCode reply = Assert.IsType<MilterReply.ReplyCode>(Assert.Single(await client.ReadEndOfMessageAsync()));

        Assert.StartsWith("451 4.", reply.Text);
        Assert.Equal("TempFailedInbound", Assert.Single(h.Audit.Records).Action);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task PipelineException_TempFailNotCrash_ConnectionStaysUsable()
    {
        int calls = 0;
        var policy = new VerdictPolicy(new VerdictPolicyOptions { HostName = "mx" });
        using var h = new MilterHarness(checks: [FakeCheck.Clean()], policyFactory: () => ++calls == 1 ? throw new InvalidOperationException("policy exploded") : policy);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        MilterReply.ReplyCode reply = Assert.IsType<MilterReply.ReplyCode>(Assert.Single(await client.ReadEndOfMessageAsync()));
        Assert.Equal("451 4.3.0 Temporary failure, try again later", reply.Text);
        Assert.True(h.Logged(4007));

        await client.SendAsync(new MilterCommand.Abort());
        await client.SendAsync(new MilterCommand.Mail("<a@example.com>", []), new MilterCommand.Rcpt("<b@example.org>", []));
        await client.SendAsync(Postfix.Content());
        Assert.Equal(MilterReplyCode.Continue, (await client.ReadEndOfMessageAsync())[^1].Code);
        Assert.Equal(2, h.Audit.Records.Count);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Discard_WithQuarantineStore_StoresAndDiscards()
    {
        var store = new FakeQuarantine();
        using var h = new MilterHarness(checks: [FakeCheck.Virus()], policy: new VerdictPolicyOptions { HostName = "mx", VirusAction = BlockAction.Discard, QuarantineBlocked = true }, quarantine: store);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());

        Assert.Equal(MilterReplyCode.Discard, Assert.Single(await client.ReadEndOfMessageAsync()).Code);
        AuditRecord audit = Assert.Single(h.Audit.Records);
        Assert.Equal("q-" + audit.MailId, audit.QuarantineId);
        Assert.Equal("DiscardedInbound,Quarantined", audit.Action);
        Assert.Single(store.Stored);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Discard_QuarantineStoreFailsAndNoHoldQueue_TempFailSoPostfixKeepsTheMessage()
    {
        var store = new FakeQuarantine(new IOException("No space left on device"));
        using var h = new MilterHarness(checks: [FakeCheck.Virus()], options: new MilterOptions { HoldQuarantined = false },
            policy: new VerdictPolicyOptions { HostName = "mx", VirusAction = BlockAction.Discard, QuarantineBlocked = true }, quarantine: store);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());

        // A discard with no copy kept anywhere would lose the message.
        MilterReply.ReplyCode reply = Assert.IsType<MilterReply.ReplyCode>(Assert.Single(await client.ReadEndOfMessageAsync()));
        Assert.StartsWith("451 4.3.0 ", reply.Text);
        AuditRecord audit = Assert.Single(h.Audit.Records);
        Assert.Null(audit.QuarantineId);
        Assert.Contains("No space left on device", audit.Reason);
        await QuitAsync(client, session);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Discard_QuarantineWithoutStoreOrStoreFails_HeldInPostfixInstead(bool storeFails)
    {
        FakeQuarantine? store = storeFails ? new FakeQuarantine(new IOException("No space left on device")) : null;
        using var h = new MilterHarness(checks: [FakeCheck.Virus()], policy: new VerdictPolicyOptions { HostName = "mx", VirusAction = BlockAction.Discard, QuarantineBlocked = true }, quarantine: store);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        List<MilterReply> replies = await client.ReadEndOfMessageAsync();

        Assert.Equal(2, replies.Count);
        Assert.StartsWith("INFECTED", Assert.IsType<MilterReply.Quarantine>(replies[0]).Reason);
        Assert.Equal(MilterReplyCode.Continue, replies[1].Code);
        AuditRecord audit = Assert.Single(h.Audit.Records);
        Assert.Equal("HeldInbound,Quarantined", audit.Action);
        Assert.Null(audit.QuarantineId);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Discard_NoQuarantine_SmfirDiscard()
    {
        using var h = new MilterHarness(checks: [FakeCheck.Virus()], policy: new VerdictPolicyOptions { HostName = "mx", VirusAction = BlockAction.Discard, QuarantineBlocked = false });
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());

        Assert.Equal(MilterReplyCode.Discard, Assert.Single(await client.ReadEndOfMessageAsync()).Code);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task LongScan_SendsProgressEveryInterval()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-24T08:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var release = new TaskCompletionSource();
        var started = new TaskCompletionSource();
        var slow = new FakeCheck("clamav", async (_, ct) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(ct);
            return new VirusScanResult { Check = "clamav", Status = CheckStatus.Ok };
        });
        using var h = new MilterHarness(checks: [slow], options: new MilterOptions { ProgressInterval = TimeSpan.FromSeconds(30) }, time: time);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        for (int i = 0; i < 3; i++)
        {
            Task<MilterReply?> next = client.ReadAsync();
            // The delay may be armed just after the check started: advance until the packet comes.
            while (!next.IsCompleted)
            {
                time.Advance(TimeSpan.FromSeconds(30));
                await Task.WhenAny(next, Task.Delay(50));
            }
            Assert.Equal(MilterReplyCode.Progress, (await next)!.Code);
        }
        release.SetResult();

        Assert.Equal(MilterReplyCode.Continue, (await client.ReadEndOfMessageAsync())[^1].Code);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task SeveralTransactions_AbortAfterEach_OneAuditRecordPerMessage()
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content("first\r\n"));
        await client.ReadEndOfMessageAsync();
        await client.SendAsync(new MilterCommand.Abort());

        // An aborted transaction (RSET after RCPT) leaves no record.
        await client.SendAsync(new MilterCommand.Mail("<x@example.com>", []), new MilterCommand.Rcpt("<y@example.org>", []), new MilterCommand.Abort());

        await client.SendAsync(new MilterCommand.Mail("<second@example.com>", []), new MilterCommand.Rcpt("<z@example.org>", []));
        await client.SendAsync(Postfix.Content("second\r\n"));
        await client.ReadEndOfMessageAsync();
        await client.SendAsync(new MilterCommand.Abort());

        Assert.Equal(2, h.Audit.Records.Count);
        AuditRecord[] records = h.Audit.Records.ToArray();
        Assert.NotEqual(records[0].MailId, records[1].MailId);
        Assert.Equal("second@example.com", records[1].Sender);
        Assert.Equal(["z@example.org"], records[1].Recipients);
        Assert.EndsWith("second\r\n", Encoding.ASCII.GetString(check.Spools[1]));
        Assert.Empty(Directory.GetFiles(h.SpoolDirectory));
        await QuitAsync(client, session);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task BodyPacketsArrivingInPieces_SpooledExactly(int piece)
    {
        // Body chunks go from the pipe's buffer to the spool without a copy: packets cut anywhere, spread over
        // several buffer segments, and two packets in one read must all arrive byte for byte.
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(new MilterCommand.Header("Subject", " pieces"u8.ToArray()), new MilterCommand.EndOfHeaders());
        byte[] first = Enumerable.Range(0, 10_000).Select(i => (byte)(i % 251)).ToArray();
        byte[] second = Encoding.ASCII.GetBytes("tail\r\n");
        var raw = new System.IO.Pipelines.Pipe();
        MilterCommandWriter.Write(new MilterCommand.Body(first), raw.Writer);
        MilterCommandWriter.Write(new MilterCommand.Body(second), raw.Writer);
        MilterCommandWriter.Write(new MilterCommand.BodyEob([]), raw.Writer);
        await raw.Writer.FlushAsync();
        raw.Writer.Complete();
        byte[] packets = (await raw.Reader.ReadAsync()).Buffer.ToArray();
        for (int offset = 0; offset < packets.Length; offset += piece)
        {
            await client.SendRawAsync(packets[offset..Math.Min(packets.Length, offset + piece)]);
        }
        await client.ReadEndOfMessageAsync();

        byte[] expected = [.. "Subject: pieces\r\n\r\n"u8.ToArray(), .. first, .. second];
        Assert.Equal(expected, check.Spools[0]);
        await QuitAsync(client, session);
    }

    [Fact]
    public void HeaderBytes_MatchesTheFieldAsItStoodInTheMessage()
    {
        // Reference: put back the space Postfix ate (unless HDR_LEADSPC), a CR before every bare LF, CRLF at the end.
        static byte[] Reference(string name, byte[] value, bool leadingSpace)
        {
            var bytes = new List<byte>(Encoding.UTF8.GetBytes(name)) { (byte)':' };
            if (!leadingSpace)
            {
                bytes.Add((byte)' ');
            }
            byte previous = 0;
            foreach (byte b in value)
            {
                if (b == (byte)'\n' && previous != (byte)'\r')
                {
                    bytes.Add((byte)'\r');
                }
                bytes.Add(b);
                previous = b;
            }
            bytes.AddRange("\r\n"u8.ToArray());
            return bytes.ToArray();
        }

        string[] values = ["", "x", " plain", "\n", "\r\n", "\n\n", "a\n\tb", "a\r\n\tb", "a\n\n b", "\r", "a\r\r\n b", "\na", "a\n", "\u00e9t\u00e9\n x"];
        var random = new Random(6);
        IEnumerable<string> generated = Enumerable.Range(0, 200).Select(_ =>
            new string(Enumerable.Range(0, random.Next(0, 12)).Select(_ => "ab \t\r\n"[random.Next(6)]).ToArray()));
        foreach (string value in values.Concat(generated))
        {
            foreach (string name in new[] { "Subject", "X-\u00c4", "" })
            {
                foreach (bool leadingSpace in new[] { true, false })
                {
                    byte[] bytes = Encoding.UTF8.GetBytes(value);
                    Assert.Equal(Reference(name, bytes, leadingSpace), MilterSession.HeaderBytes(new MilterCommand.Header(name, bytes), leadingSpace));
                }
            }
        }
    }

    [Fact]
    public async Task LargeBody_SpooledToDiskAndDeletedAfterReply()
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);
        await client.SendAsync(Postfix.Envelope());
        string line = new string('x', 998) + "\r\n";
        var body = new StringBuilder();
        for (int i = 0; i < 200; i++)
        {
            body.Append(line);
        }
        byte[] bytes = Encoding.ASCII.GetBytes(body.ToString());
        await client.SendAsync(new MilterCommand.Header("Subject", Encoding.ASCII.GetBytes(" big")), new MilterCommand.EndOfHeaders());
        for (int offset = 0; offset < bytes.Length; offset += 65535)
        {
            await client.SendAsync(new MilterCommand.Body(bytes[offset..Math.Min(bytes.Length, offset + 65535)]));
        }
        await client.SendAsync(new MilterCommand.BodyEob([]));
        await client.ReadEndOfMessageAsync();

        Assert.Equal("Subject: big\r\n\r\n" + body, Encoding.ASCII.GetString(check.Spools[0]));
        Assert.NotNull(check.Contexts[0].Spool.FilePath);
        Assert.Empty(Directory.GetFiles(h.SpoolDirectory));
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Greylist_DeferAtRcpt_450AndRecipientNotAdded()
    {
        var grey = new FakeGreylist(r => r.Recipient == "new@example.org"
            ? new GreylistDecision(GreylistAction.Defer, "new", "4.2.0 Greylisted, see https://postgrey.schweikert.ch/help/example.org.html", null)
            : new GreylistDecision(GreylistAction.Pass, "triplet found", null, "X-Greylist: delayed 301 seconds by postgrey-1.37 at mx; Tue, 24 Nov 2026 08:00:00 UTC"));
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check], options: new MilterOptions { GreylistAtRcpt = true }, greylist: grey);
        (MilterTestClient client, Task session, _) = h.Connect();
        MilterReply.OptNeg neg = await NegotiateAsync(client);
        Assert.False(neg.Protocol.HasFlag(MilterProtocol.NoReplyRcpt));

        await client.SendAsync(Postfix.Envelope("<s@example.com>", "<new@example.org>").Where(c => c is not MilterCommand.Rcpt).ToArray());
        await client.SendAsync(new MilterCommand.Rcpt("<new@example.org>", []));
        MilterReply.ReplyCode deferred = Assert.IsType<MilterReply.ReplyCode>(await client.ReadAsync());
        Assert.Equal("450 4.2.0 Greylisted, see https://postgrey.schweikert.ch/help/example.org.html", deferred.Text);

        await client.SendAsync(new MilterCommand.Rcpt("<known@example.org>", []));
        Assert.Equal(MilterReplyCode.Continue, (await client.ReadAsync())!.Code);
        await client.SendAsync(Postfix.Content());
        List<MilterReply> replies = await client.ReadEndOfMessageAsync();

        Assert.Equal(["known@example.org"], check.Contexts[0].Envelope.Recipients.Select(r => r.Address));
        Assert.Contains(replies, r => r is MilterReply.InsertHeader { Name: "X-Greylist" } x && x.Value.StartsWith(" delayed 301 seconds", StringComparison.Ordinal));
        GreylistRequest first = grey.Requests[0];
        Assert.Equal("192.0.2.7", first.ClientAddress.ToString());
        Assert.Equal("s@example.com", first.Sender);
        Assert.Equal("client.example.com", first.ClientName);
        Assert.Equal("client.example.com", first.Helo); // the SPF exemption (Greylist:PassSpf) evaluates with it
        GreylistAuditRecord[] decisions = h.Audit.Greylist.ToArray();
        Assert.Equal(2, decisions.Length);
        Assert.Equal(("greylist", "new", "new@example.org", (double?)null), (decisions[0].Action, decisions[0].Reason, decisions[0].Recipient, decisions[0].DelaySeconds));
        Assert.Equal(("pass", "triplet found", "known@example.org", (double?)301), (decisions[1].Action, decisions[1].Reason, decisions[1].Recipient, decisions[1].DelaySeconds));
        Assert.Equal("192.0.2.7", decisions[0].ClientAddress);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Greylist_AuthenticatedSender_NotAsked()
    {
        var grey = new FakeGreylist(_ => new GreylistDecision(GreylistAction.Defer, "new", "4.2.0 Greylisted", null));
        using var h = new MilterHarness(checks: [FakeCheck.Clean()], options: new MilterOptions { GreylistAtRcpt = true }, greylist: grey);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(new MilterCommand.Connect("c", '4', 1, "192.0.2.1"), new MilterCommand.Macro(MilterCommandCode.Mail, [new("{auth_authen}", "alice")]), new MilterCommand.Mail("<a@example.com>", []));
        await client.SendAsync(new MilterCommand.Rcpt("<b@example.org>", []));

        Assert.Equal(MilterReplyCode.Continue, (await client.ReadAsync())!.Code);
        Assert.Empty(grey.Requests);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task Greylist_Throws_Rcpt451()
    {
        var grey = new FakeGreylist(_ => throw new InvalidOperationException("redis down"));
        using var h = new MilterHarness(checks: [FakeCheck.Clean()], options: new MilterOptions { GreylistAtRcpt = true }, greylist: grey);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);

        await client.SendAsync(Postfix.Envelope());
        MilterReply.ReplyCode reply = Assert.IsType<MilterReply.ReplyCode>(await client.ReadAsync());

        Assert.StartsWith("451 4.3.0", reply.Text);
        Assert.True(h.Logged(4008));
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task QuitNewConnection_ResetsAndServesNextConnectionOnSameSocket()
    {
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(new MilterCommand.QuitNewConnection());
        await client.SendAsync(new MilterCommand.Connect("other.example.net", '4', 2, "198.51.100.1"), new MilterCommand.Mail("<o@example.net>", []), new MilterCommand.Rcpt("<r@example.org>", []));
        await client.SendAsync(Postfix.Content());
        await client.ReadEndOfMessageAsync();

        Assert.Equal("198.51.100.1", check.Contexts.Single().Envelope.Client.Address?.ToString());
        Assert.Null(check.Contexts.Single().Envelope.Client.Helo);
        await QuitAsync(client, session);
    }

    /// <summary>After a stop in the middle of a "Subject: stop" message: the rest is sent, checked and answered, then the session closes as stopping.</summary>
    private static async Task FinishStoppedMessageAsync(MilterTestClient client, Task session, FakeCheck check, MilterHarness h)
    {
        await client.SendAsync(new MilterCommand.EndOfHeaders(), new MilterCommand.Body("last\r\n"u8.ToArray()), new MilterCommand.BodyEob([]));
        List<MilterReply> replies = await client.ReadEndOfMessageAsync();

        Assert.Equal(MilterReplyCode.Continue, replies[^1].Code);
        Assert.Equal("Subject: stop\r\n\r\nlast\r\n", Encoding.ASCII.GetString(check.Spools[0]));
        Assert.True(await client.ClosedAsync());
        await session.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(h.Logged(4014));
    }

    [Fact]
    public async Task ServiceStopping_DuringAMessage_MessageFinishedThenClosed()
    {
        using var stop = new CancellationTokenSource();
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        var connection = new ContentFilter.Testing.InMemoryConnection("milter", stopping: stop.Token);
        Task session = Task.Run(() => h.Session.HandleAsync(connection.Context, CancellationToken.None));
        var client = new MilterTestClient(connection);
        await NegotiateAsync(client);
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(new MilterCommand.Header("Subject", " stop"u8.ToArray()));

        // The stop comes while the session waits for the rest of the message: it must not end that read.
        await stop.CancelAsync();
        await Task.Delay(100);
        Assert.False(session.IsCompleted);
        await FinishStoppedMessageAsync(client, session, check, h);
    }

    [Fact]
    public async Task ServiceStopping_NextTransactionAlreadySentButUnread_FinishedThenClosed()
    {
        // With SMFIP_NR_* Postfix sends MAIL, RCPT and the headers without waiting for a reply. A stop that comes
        // when they are already in the connection's buffer, unread, must finish that transaction, not close on it
        // (a clean-clone CI run closed here when the session's read had not yet seen the packets).
        using var stop = new CancellationTokenSource();
        var check = FakeCheck.Clean();
        using var h = new MilterHarness(checks: [check]);
        var connection = new ContentFilter.Testing.InMemoryConnection("milter", stopping: stop.Token);
        var client = new MilterTestClient(connection);
        await client.SendAsync(Postfix.Offer);
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(new MilterCommand.Header("Subject", " stop"u8.ToArray()));
        await stop.CancelAsync();

        Task session = Task.Run(() => h.Session.HandleAsync(connection.Context, CancellationToken.None));
        Assert.IsType<MilterReply.OptNeg>(await client.ReadAsync());
        await FinishStoppedMessageAsync(client, session, check, h);
    }

    [Fact]
    public async Task ServiceStopping_BeforeAnything_ClosedWithoutReply()
    {
        // The counterpart: a stop with nothing sent yet closes at once (Postfix opens a new connection to the
        // next instance).
        using var stop = new CancellationTokenSource();
        using var h = new MilterHarness(checks: [FakeCheck.Clean()]);
        var connection = new ContentFilter.Testing.InMemoryConnection("milter", stopping: stop.Token);
        var client = new MilterTestClient(connection);
        await stop.CancelAsync();

        Task session = Task.Run(() => h.Session.HandleAsync(connection.Context, CancellationToken.None));

        Assert.True(await client.ClosedAsync());
        await session.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(h.Logged(4014));
    }

    [Fact]
    public async Task ReadTimeout_NotFiredWhileAMessageIsChecked()
    {
        // The read timer runs only while a read waits: a check that takes longer than the idle timeout is not cut.
        var time = new FakeTimeProvider();
        var release = new TaskCompletionSource();
        var started = new TaskCompletionSource();
        var check = new FakeCheck("clamav", async (_, ct) =>
        {
            started.TrySetResult();
            await release.Task.WaitAsync(ct);
            return new VirusScanResult { Check = "clamav", Status = CheckStatus.Ok };
        });
        using var h = new MilterHarness(checks: [check], options: new MilterOptions { IdleTimeout = TimeSpan.FromSeconds(60), PacketTimeout = TimeSpan.FromSeconds(60), ProgressInterval = TimeSpan.FromHours(1) }, time: time);
        (MilterTestClient client, Task session, _) = h.Connect();
        await NegotiateAsync(client);
        await client.SendAsync(Postfix.Envelope());
        await client.SendAsync(Postfix.Content());
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 5; i++)
        {
            await Task.Delay(20);
            time.Advance(TimeSpan.FromSeconds(61));
        }
        Assert.False(session.IsCompleted);
        release.SetResult();
        List<MilterReply> replies = await client.ReadEndOfMessageAsync();
        Assert.Equal(MilterReplyCode.Continue, replies[^1].Code);
        Assert.Single(check.Spools);
        await QuitAsync(client, session);
    }

    [Fact]
    public async Task ServiceStopping_IdleConnectionClosed()
    {
        using var stop = new CancellationTokenSource();
        using var h = new MilterHarness();
        var connection = new ContentFilter.Testing.InMemoryConnection("milter", stopping: stop.Token);
        Task session = Task.Run(() => h.Session.HandleAsync(connection.Context, CancellationToken.None));
        var client = new MilterTestClient(connection);
        await NegotiateAsync(client);

        await stop.CancelAsync();

        Assert.True(await client.ClosedAsync());
        await session.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(h.Logged(4014));
    }
}
