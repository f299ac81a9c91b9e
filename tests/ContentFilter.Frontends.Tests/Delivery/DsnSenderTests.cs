using System.Text;
using ContentFilter.Frontends.Delivery;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MimeKit;
using static ContentFilter.Frontends.Tests.Delivery.NextHopTestMessages;

namespace ContentFilter.Frontends.Tests.Delivery;

public sealed class DsnSenderTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-03-04T05:06:07Z"));
    private readonly CapturingNextHop _nextHop = new();

    private const string Original = "From: Alice <sender@example.org>\r\nTo: rcpt@example.net\r\nSubject: hello\r\nMessage-ID: <m1@example.org>\r\n\r\nBody line\r\n.dot\r\n";

    private DsnSender Sender(INextHop? nextHop = null, long maxReturned = 1024 * 1024) =>
        new(new DsnOptions { ReportingMta = "filter.example", MaxReturnedMessageBytes = maxReturned }, new SpoolOptions { Directory = SpoolDirectory }, nextHop ?? _nextHop, _time, NullLogger<DsnSender>.Instance);

    private static async Task<MessageContext> ContextAsync(Envelope envelope, string message = Original)
    {
        var (spool, headers) = await SpoolAsync(message);
        return new MessageContext("AbCdEfGhIjKl", envelope, spool, headers, ListenerPolicy.DefaultInbound, FrontDoor.Smtp, DateTimeOffset.Parse("2026-03-04T05:00:00Z"));
    }

    private static RecipientOutcome Refused(string address, params string[] parameters) =>
        new(new EnvelopeRecipient(address, parameters), new Reply(550, "5.1.1", $"<{address}>: Recipient address rejected: User unknown"));

    [Fact]
    public async Task Send_TwoRefusedRecipients_ParsesAsDeliveryStatusReport()
    {
        Envelope envelope = Envelope("ok@example.net", "bad1@example.net", "bad2@example.net");
        envelope.MailParameters.Add("ENVID=env+2B42");
        MessageContext context = await ContextAsync(envelope);
        await using (context.Spool)
        {
            await Sender().SendFailureNoticeAsync(context, new[] { Refused("bad1@example.net", "ORCPT=rfc822;Bad1+2Bx@example.net"), Refused("bad2@example.net") }, CancellationToken.None);
        }

        CapturedMessage sent = Assert.Single(_nextHop.Sent);
        Assert.Equal(string.Empty, sent.Envelope.MailFrom);
        Assert.Equal("sender@example.org", Assert.Single(sent.Envelope.Recipients).Address);
        Assert.Equal("LOCAL", sent.Envelope.Client.Source);

        MimeMessage dsn = MimeMessage.Load(new MemoryStream(sent.Bytes));
        Assert.Equal("MAILER-DAEMON@filter.example", dsn.From.Mailboxes.Single().Address);
        Assert.Equal("sender@example.org", dsn.To.Mailboxes.Single().Address);
        Assert.Equal("auto-replied", dsn.Headers["Auto-Submitted"]);
        var report = Assert.IsType<MultipartReport>(dsn.Body);
        Assert.Equal("delivery-status", report.ReportType);
        Assert.Equal(3, report.Count);
        Assert.IsType<TextPart>(report[0]);
        Assert.Contains("bad1@example.net", ((TextPart)report[0]).Text, StringComparison.Ordinal);

        var status = Assert.IsType<MessageDeliveryStatus>(report[1]);
        Assert.Equal(3, status.StatusGroups.Count);
        HeaderList perMessage = status.StatusGroups[0];
        Assert.Equal("dns; filter.example", perMessage["Reporting-MTA"]);
        Assert.Equal("env+42", perMessage["Original-Envelope-Id"]);
        Assert.Equal("Wed, 04 Mar 2026 05:00:00 +0000", perMessage["Arrival-Date"]);
        HeaderList first = status.StatusGroups[1];
        Assert.Equal("rfc822; bad1@example.net", first["Final-Recipient"]);
        Assert.Equal("rfc822; Bad1+x@example.net", first["Original-Recipient"]);
        Assert.Equal("failed", first["Action"]);
        Assert.Equal("5.1.1", first["Status"]);
        Assert.Equal("smtp; 550 5.1.1 <bad1@example.net>: Recipient address rejected: User unknown", first["Diagnostic-Code"]);
        Assert.Null(status.StatusGroups[2]["Original-Recipient"]);

        var returned = Assert.IsType<TextRfc822Headers>(report[2]);
        Assert.Equal("hello", returned.Message!.Subject);
        Assert.Equal("<m1@example.org>", returned.Message!.Headers["Message-ID"]);
        Assert.DoesNotContain("Body line", Encoding.UTF8.GetString(sent.Bytes), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_RetFull_WholeMessageReturnedVerbatim()
    {
        Envelope envelope = Envelope("bad@example.net");
        envelope.MailParameters.Add("RET=FULL");
        MessageContext context = await ContextAsync(envelope);
        await using (context.Spool)
        {
            await Sender().SendFailureNoticeAsync(context, new[] { Refused("bad@example.net") }, CancellationToken.None);
        }
        byte[] bytes = _nextHop.Sent.Single().Bytes;
        var report = Assert.IsType<MultipartReport>(MimeMessage.Load(new MemoryStream(bytes)).Body);
        var attached = Assert.IsType<MessagePart>(report[2]);
        Assert.Equal("hello", attached.Message!.Subject);
        Assert.Contains(Original, Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_RetFullButLarge_OnlyHeadersReturned()
    {
        Envelope envelope = Envelope("bad@example.net");
        envelope.MailParameters.Add("RET=FULL");
        MessageContext context = await ContextAsync(envelope);
        await using (context.Spool)
        {
            await Sender(maxReturned: 20).SendFailureNoticeAsync(context, new[] { Refused("bad@example.net") }, CancellationToken.None);
        }
        var report = Assert.IsType<MultipartReport>(MimeMessage.Load(new MemoryStream(_nextHop.Sent.Single().Bytes)).Body);
        Assert.IsType<TextRfc822Headers>(report[2]);
    }

    [Fact]
    public async Task Send_EightBitHeaders_MarkedEightBit()
    {
        Envelope envelope = Envelope("bad@example.net");
        MessageContext context = await ContextAsync(envelope, "Subject: Grüße\r\n\r\nx\r\n");
        await using (context.Spool)
        {
            await Sender().SendFailureNoticeAsync(context, new[] { Refused("bad@example.net") }, CancellationToken.None);
        }
        CapturedMessage sent = _nextHop.Sent.Single();
        Assert.Contains("BODY=8BITMIME", sent.Envelope.MailParameters);
        var report = Assert.IsType<MultipartReport>(MimeMessage.Load(new MemoryStream(sent.Bytes)).Body);
        Assert.Equal("8bit", report[2].Headers["Content-Transfer-Encoding"]);
    }

    [Fact]
    public async Task Send_NullSender_NothingSent()
    {
        Envelope envelope = Envelope("bad@example.net");
        envelope.MailFrom = string.Empty;
        MessageContext context = await ContextAsync(envelope);
        await using (context.Spool)
        {
            await Sender().SendFailureNoticeAsync(context, new[] { Refused("bad@example.net") }, CancellationToken.None);
        }
        Assert.Empty(_nextHop.Sent);
    }

    [Theory]
    [InlineData("NOTIFY=NEVER", false)]
    [InlineData("NOTIFY=SUCCESS,DELAY", false)]
    [InlineData("NOTIFY=SUCCESS,FAILURE", true)]
    [InlineData("notify=failure", true)]
    public async Task Send_NotifyParameter_Respected(string notify, bool sent)
    {
        MessageContext context = await ContextAsync(Envelope("bad@example.net"));
        await using (context.Spool)
        {
            await Sender().SendFailureNoticeAsync(context, new[] { Refused("bad@example.net", notify) }, CancellationToken.None);
        }
        Assert.Equal(sent ? 1 : 0, _nextHop.Sent.Count);
    }

    [Fact]
    public async Task Send_NextHopRefusesNotice_Throws()
    {
        var refusing = new CapturingNextHop { Reply = new Reply(451, "4.3.0", "try later") };
        MessageContext context = await ContextAsync(Envelope("bad@example.net"));
        await using (context.Spool)
        {
            var ex = await Assert.ThrowsAsync<DsnDeliveryException>(() => Sender(refusing).SendFailureNoticeAsync(context, new[] { Refused("bad@example.net") }, CancellationToken.None));
            Assert.Equal(451, ex.Outcome.Final.Code);
        }
    }

    [SkippableFact]
    public async Task Send_ThroughSmtpSink_NullSenderAndParsableReport()
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using var client = new SmtpNextHopClient(new NextHopOptions { Endpoint = sink.Endpoint, HeloName = "filter.example" }, TimeProvider.System, NullLogger<SmtpNextHopClient>.Instance);
        MessageContext context = await ContextAsync(Envelope("bad@example.net"));
        await using (context.Spool)
        {
            await Sender(client).SendFailureNoticeAsync(context, new[] { Refused("bad@example.net") }, CancellationToken.None);
        }
        SmtpSinkDump dump = Assert.Single(await sink.WaitForDumpsAsync(1, TimeSpan.FromSeconds(20)));
        Assert.Equal("<>", dump.Get("X-Mail-Args").Single());
        Assert.Equal("<sender@example.org>", dump.Get("X-Rcpt-Args").Single());
        byte[] crlf = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(dump.Body).Replace("\n", "\r\n", StringComparison.Ordinal));
        var report = Assert.IsType<MultipartReport>(MimeMessage.Load(new MemoryStream(crlf)).Body);
        Assert.Equal("failed", ((MessageDeliveryStatus)report[1]).StatusGroups[1]["Action"]);
    }

    [Theory]
    [InlineData(550, "5.1.1", "5.1.1")]
    [InlineData(554, "", "5.0.0")]
    [InlineData(550, "4.1.1", "5.0.0")]
    public void StatusOf_Codes_ClassConsistent(int code, string enhanced, string expected)
    {
        Assert.Equal(expected, DsnMessageWriter.StatusOf(code, enhanced));
    }

    internal sealed record CapturedMessage(Envelope Envelope, byte[] Bytes);

    internal sealed class CapturingNextHop : INextHop
    {
        public List<CapturedMessage> Sent { get; } = new();

        public Reply Reply { get; init; } = new(250, "2.0.0", "Ok: queued as DSN1");

        public async Task<DeliveryOutcome> DeliverAsync(Envelope envelope, MessageSpool spool, MessageHeaders headers, IReadOnlyList<HeaderEdit> edits, CancellationToken cancellationToken)
        {
            var ms = new MemoryStream();
            await OutgoingMessage.WriteAsync(spool, headers, edits, ms, cancellationToken);
            if (Reply.Code < 300)
            {
                Sent.Add(new CapturedMessage(envelope, ms.ToArray()));
            }
            return new DeliveryOutcome
            {
                Recipients = envelope.Recipients.Select(r => new RecipientOutcome(r, Reply)).ToList(),
                Final = Reply,
                QueuedAs = Reply.Code < 300 ? "DSN1" : null,
            };
        }
    }
}
