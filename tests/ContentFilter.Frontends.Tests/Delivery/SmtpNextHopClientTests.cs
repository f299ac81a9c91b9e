using System.Net;
using System.Net.Sockets;
using System.Text;
using ContentFilter.Frontends.Delivery;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Protocols.Smtp;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static ContentFilter.Frontends.Tests.Delivery.NextHopTestMessages;

namespace ContentFilter.Frontends.Tests.Delivery;

public sealed class SmtpNextHopClientTests : IAsyncLifetime
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(30);
    private readonly ScriptedSmtpServer _server = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private SmtpNextHopClient Client(Action<NextHopOptions>? configure = null)
    {
        var options = new NextHopOptions { Endpoint = _server.Endpoint, HeloName = "filter.example" };
        configure?.Invoke(options);
        return new SmtpNextHopClient(options, _time, NullLogger<SmtpNextHopClient>.Instance);
    }

    private static async Task<DeliveryOutcome> DeliverAsync(SmtpNextHopClient client, Envelope envelope, string message, IReadOnlyList<HeaderEdit>? edits = null)
    {
        var (spool, headers) = await SpoolAsync(message);
        await using (spool)
        {
            return await client.DeliverAsync(envelope, spool, headers, edits ?? Array.Empty<HeaderEdit>(), CancellationToken.None).WaitAsync(TestTimeout);
        }
    }

    [Fact]
    public async Task Deliver_PipeliningNextHop_SendsEnvelopeAndExactStuffedBytes()
    {
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope("one@example.net", "two@example.net"), Simple);

        Assert.True(outcome.AnyAccepted);
        Assert.False(outcome.AnyTransient);
        Assert.Equal("QID1", outcome.QueuedAs);
        Assert.Equal($"smtp:[127.0.0.1]:{_server.Port}", outcome.Peer);
        Assert.Equal(250, outcome.Final.Code);
        Assert.All(outcome.Recipients, r => Assert.True(r.Accepted));

        string[] verbs = _server.Commands.Select(c => c.Verb).ToArray();
        Assert.Equal(new[] { "EHLO", "XFORWARD", "MAIL", "RCPT", "RCPT", "DATA", "." }, verbs);
        Assert.Equal("EHLO filter.example", _server.Commands.First().Line);
        Assert.Equal("XFORWARD NAME=mail.example.org ADDR=192.0.2.10 PORT=41532 PROTO=ESMTP HELO=mail.example.org IDENT=3Hq1Z4bK9f SOURCE=REMOTE", _server.Lines("XFORWARD").Single());
        Assert.Equal($"MAIL FROM:<sender@example.org> BODY=8BITMIME SIZE={Simple.Length}", _server.Lines("MAIL").Single());
        Assert.Equal(new[] { "RCPT TO:<one@example.net>", "RCPT TO:<two@example.net>" }, _server.Lines("RCPT"));
        Assert.Equal(SmtpDotStuffer.StuffAll(Encoding.UTF8.GetBytes(Simple)), _server.Messages.Single());
    }

    [Fact]
    public async Task Deliver_WithHeaderEdits_AddedFieldsOnTopAndSizeCountsThem()
    {
        await using SmtpNextHopClient client = Client();
        var edits = new HeaderEdit[] { new HeaderEdit.Add("Authentication-Results", "filter.example; none"), new HeaderEdit.Add("X-Spam-Flag", "NO") };
        await DeliverAsync(client, Envelope(), Simple, edits);

        string expected = "Authentication-Results: filter.example; none\r\nX-Spam-Flag: NO\r\n" + Simple;
        Assert.Equal(SmtpDotStuffer.StuffAll(Encoding.UTF8.GetBytes(expected)), _server.Messages.Single());
        Assert.EndsWith($" SIZE={expected.Length}", _server.Lines("MAIL").Single());
    }

    [Fact]
    public async Task Deliver_LargeMessageFromSpoolFile_StreamedByteForByte()
    {
        var sb = new StringBuilder("Subject: big\r\n\r\n");
        for (int i = 0; sb.Length < 600_000; i++)
        {
            sb.Append(i % 10 == 0 ? "." : string.Empty).Append("line ").Append(i).Append(i % 7 == 0 ? "\n" : "\r\n");
        }
        byte[] message = Encoding.ASCII.GetBytes(sb.ToString());
        var (spool, headers) = await SpoolAsync(message, inMemoryThreshold: 64 * 1024);
        await using (spool)
        {
            Assert.NotNull(spool.FilePath);
            await using SmtpNextHopClient client = Client();
            DeliveryOutcome outcome = await client.DeliverAsync(Envelope(), spool, headers, Array.Empty<HeaderEdit>(), CancellationToken.None).WaitAsync(TestTimeout);
            Assert.True(outcome.AnyAccepted);
        }
        Assert.Equal(SmtpDotStuffer.StuffAll(message), _server.Messages.Single());
    }

    [Fact]
    public async Task Deliver_MessageWithoutFinalCrLf_TerminatedWithCrLfDotCrLf()
    {
        await using SmtpNextHopClient client = Client();
        await DeliverAsync(client, Envelope(), "Subject: x\r\n\r\nno line end");
        Assert.EndsWith("no line end\r\n.\r\n", Encoding.ASCII.GetString(_server.Messages.Single()));
    }

    [Fact]
    public async Task Deliver_SmugglingSequencesInBody_OneMessageNoExtraCommands()
    {
        await using SmtpNextHopClient client = Client();
        string body = "Subject: s\r\n\r\nx\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n\r\n.\r\nx\r.\rQUIT\r\n";
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), body);
        Assert.True(outcome.AnyAccepted);
        Assert.Single(_server.Lines("MAIL"));
        Assert.Single(_server.Messages);
        Assert.DoesNotContain(_server.Commands, c => c.Line.Contains("evil", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Deliver_Ipv6ClientAndUnknowns_AddrPrefixedAndUnavailable()
    {
        _server.EhloLines = new[] { "fake", "XFORWARD NAME ADDR HELO" };
        await using SmtpNextHopClient client = Client();
        Envelope envelope = Envelope();
        envelope.Client = new ClientInfo { Address = IPAddress.Parse("2001:db8::1"), Helo = "bad helo=+x" };
        await DeliverAsync(client, envelope, Simple);
        Assert.Equal("XFORWARD NAME=[UNAVAILABLE] ADDR=IPV6:2001:db8::1 HELO=bad+20helo+3D+2Bx", _server.Lines("XFORWARD").Single());
    }

    [Fact]
    public async Task Deliver_Ipv4MappedAddress_SentAsIpv4()
    {
        await using SmtpNextHopClient client = Client();
        Envelope envelope = Envelope();
        envelope.Client = envelope.Client with { Address = IPAddress.Parse("::ffff:198.51.100.7") };
        await DeliverAsync(client, envelope, Simple);
        Assert.Contains(" ADDR=198.51.100.7 ", _server.Lines("XFORWARD").Single());
    }

    [Fact]
    public void BuildXforwardCommands_LongValues_SplitIntoLinesOfAtMost512Octets()
    {
        var caps = EhloCapabilities.Parse(new SmtpReceivedReply(250, null, new[] { "x", "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE" }));
        var client = new ClientInfo { Name = new string('n', 300), Helo = new string('h', 250) + "+", Address = IPAddress.Loopback, Ident = new string('i', 200), Protocol = "ESMTP", Port = 25, Source = "LOCAL" };
        IReadOnlyList<string> lines = SmtpNextHopClient.BuildXforwardCommands(client, caps);

        Assert.True(lines.Count >= 2);
        Assert.All(lines, l => Assert.True(Encoding.UTF8.GetByteCount(l) + 2 <= 512, l.Length.ToString()));
        string all = string.Join(' ', lines.Select(l => l["XFORWARD ".Length..]));
        string[] attributes = all.Split(' ');
        Assert.Equal(new[] { "NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE" }, attributes.Select(a => a.Split('=')[0]));
        Assert.All(attributes, a => Assert.True(a.Length - a.IndexOf('=') - 1 <= 255));
        Assert.DoesNotContain(attributes, a => a.EndsWith('+') || (a.Length > 2 && a[^2] == '+'));
    }

    [Fact]
    public async Task Deliver_NoExtensionsOffered_ParametersDroppedAndLockstep()
    {
        _server.EhloLines = new[] { "plain.example" };
        await using SmtpNextHopClient client = Client();
        Envelope envelope = Envelope();
        envelope.MailParameters.Add("RET=HDRS");
        envelope.MailParameters.Add("ENVID=abc");
        envelope.MailParameters.Add("SMTPUTF8");
        envelope.Recipients[0] = envelope.Recipients[0] with { Parameters = new[] { "NOTIFY=FAILURE", "ORCPT=rfc822;rcpt@example.net" } };
        DeliveryOutcome outcome = await DeliverAsync(client, envelope, Simple);

        Assert.True(outcome.AnyAccepted);
        Assert.Empty(_server.Lines("XFORWARD"));
        Assert.Equal("MAIL FROM:<sender@example.org>", _server.Lines("MAIL").Single());
        Assert.Equal("RCPT TO:<rcpt@example.net>", _server.Lines("RCPT").Single());
    }

    [Fact]
    public async Task Deliver_DsnAndUtf8Offered_ParametersPassedThrough()
    {
        await using SmtpNextHopClient client = Client();
        Envelope envelope = Envelope();
        envelope.MailParameters.Add("RET=HDRS");
        envelope.MailParameters.Add("ENVID=abc+2B1");
        envelope.MailParameters.Add("SMTPUTF8");
        envelope.MailParameters.Add("AUTH=<>");
        envelope.Recipients[0] = envelope.Recipients[0] with { Parameters = new[] { "NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;rcpt@example.net" } };
        await DeliverAsync(client, envelope, Simple);

        Assert.Equal($"MAIL FROM:<sender@example.org> BODY=8BITMIME RET=HDRS ENVID=abc+2B1 SMTPUTF8 SIZE={Simple.Length}", _server.Lines("MAIL").Single());
        Assert.Equal("RCPT TO:<rcpt@example.net> NOTIFY=FAILURE,DELAY ORCPT=rfc822;rcpt@example.net", _server.Lines("RCPT").Single());
    }

    public static TheoryData<bool, string, string, int, bool> PhaseFailures => new()
    {
        // pipelining, verb, reply, expected final code, expected transient
        { true, "MAIL", "451 4.3.0 Try later", 451, true },
        { true, "MAIL", "553 5.7.1 Sender rejected", 553, false },
        { false, "MAIL", "451 4.3.0 Try later", 451, true },
        { false, "MAIL", "553 5.7.1 Sender rejected", 553, false },
        { true, "RCPT", "450 4.2.0 Greylisted", 450, true },
        { true, "RCPT", "550 5.1.1 Unknown user", 550, false },
        { false, "RCPT", "550 5.1.1 Unknown user", 550, false },
        { true, "DATA", "451 4.3.0 Queue file write error", 451, true },
        { true, "DATA", "554 5.5.1 No", 554, false },
        { false, "DATA", "554 5.5.1 No", 554, false },
        { true, ".", "451 4.3.0 Queue file write error", 451, true },
        { true, ".", "554 5.7.1 Content rejected", 554, false },
        { false, ".", "452 4.3.1 Insufficient system storage", 452, true },
    };

    [Theory]
    [MemberData(nameof(PhaseFailures))]
    public async Task Deliver_NextHopRefusesAtPhase_OutcomeTypedByCode(bool pipelining, string verb, string reply, int code, bool transient)
    {
        if (!pipelining)
        {
            _server.EhloLines = new[] { "fake", "ENHANCEDSTATUSCODES", "8BITMIME" };
        }
        _server.Respond = c => c.Verb == verb ? reply : c.Verb == "DATA" && verb == "RCPT" && pipelining ? "554 5.5.1 Error: no valid recipients" : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);

        Assert.Equal(code, outcome.Final.Code);
        Assert.Equal(transient, outcome.AnyTransient);
        Assert.False(outcome.AnyAccepted);
        Assert.Null(outcome.QueuedAs);
        Assert.All(outcome.Recipients, r => Assert.Equal(code, r.Reply.Code));
        Assert.Equal(reply[4..9], outcome.Final.EnhancedCode);
        if (verb != ".")
        {
            Assert.Empty(_server.Messages);
        }
        if (!pipelining && verb is "MAIL" or "RCPT")
        {
            Assert.Empty(_server.Lines("DATA"));
        }
    }

    [Fact]
    public async Task Deliver_OneRecipientRefused_OthersDeliveredAndRefusalKept()
    {
        _server.Respond = c => c.Line.Contains("bad@", StringComparison.Ordinal) ? "550 5.1.1 <bad@example.net>: Recipient address rejected" : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope("good@example.net", "bad@example.net"), Simple);

        Assert.True(outcome.AnyAccepted);
        Assert.False(outcome.AnyTransient);
        Assert.Equal(250, outcome.Recipients[0].Reply.Code);
        Assert.Equal(550, outcome.Recipients[1].Reply.Code);
        Assert.Equal("5.1.1", outcome.Recipients[1].Reply.EnhancedCode);
        Assert.Single(_server.Messages);
    }

    [Fact]
    public async Task Deliver_NoEnhancedCodeFromNextHop_ClassCodeSynthesised()
    {
        _server.Respond = c => c.Verb == "MAIL" ? "550 go away" : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal("5.0.0", outcome.Final.EnhancedCode);
        Assert.Equal("go away", outcome.Final.Text);
    }

    [Fact]
    public async Task Deliver_AfterRefusedTransaction_ConnectionResetAndReused()
    {
        int mails = 0;
        _server.Respond = c => c.Verb switch
        {
            "MAIL" => Interlocked.Increment(ref mails) == 1 ? "451 4.3.0 later" : null,
            "RCPT" or "DATA" when Volatile.Read(ref mails) == 1 => "503 5.5.1 Error: need MAIL command",
            _ => null,
        };
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome first = await DeliverAsync(client, Envelope(), Simple);
        DeliveryOutcome second = await DeliverAsync(client, Envelope(), Simple);
        Assert.True(first.AnyTransient);
        Assert.True(second.AnyAccepted);
        Assert.Equal(1, _server.Connections);
        Assert.Single(_server.Lines("RSET"));
    }

    [Theory]
    [InlineData("554 5.3.2 Service not available", "greeting")]
    [InlineData("421 4.3.2 Busy", "greeting")]
    public async Task Deliver_GreetingRefused_TransientSessionFailure(string greeting, string where)
    {
        _server.Greeting = greeting;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(451, outcome.Final.Code);
        Assert.Equal("4.4.2", outcome.Final.EnhancedCode);
        Assert.Contains(where, outcome.Final.Text, StringComparison.Ordinal);
        Assert.True(outcome.AnyTransient);
    }

    [Fact]
    public async Task Deliver_EhloNotKnown_FallsBackToHelo()
    {
        _server.Respond = c => c.Verb == "EHLO" ? "502 5.5.2 Error: command not recognized" : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);
        Assert.True(outcome.AnyAccepted);
        Assert.Single(_server.Lines("HELO"));
        Assert.Empty(_server.Lines("XFORWARD"));
    }

    [Fact]
    public async Task Deliver_XforwardRefused_TransientAndNoData()
    {
        _server.Respond = c => c.Verb == "XFORWARD" ? "550 5.7.0 Error: insufficient authorization" : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(451, outcome.Final.Code);
        Assert.Contains("XFORWARD", outcome.Final.Text, StringComparison.Ordinal);
        Assert.Empty(_server.Messages);
        Assert.All(_server.AbandonedData, d => Assert.Empty(d));
    }

    [Fact]
    public async Task Deliver_ConnectionRefused_Transient441()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var client = new SmtpNextHopClient(new NextHopOptions { Endpoint = $"127.0.0.1:{port}" }, _time, NullLogger<SmtpNextHopClient>.Instance);
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(451, outcome.Final.Code);
        Assert.Equal("4.4.1", outcome.Final.EnhancedCode);
        Assert.Contains("ConnectionRefused", outcome.Final.Text, StringComparison.Ordinal);
        Assert.True(outcome.AnyTransient);
        Assert.False(outcome.AnyAccepted);
    }

    [Fact]
    public async Task Deliver_ConnectionDroppedMidData_TransientAndNoDotSeen()
    {
        _server.Respond = c => c.Verb == "DATA" ? ScriptedSmtpServer.DropInData : null;
        await using SmtpNextHopClient client = Client();
        string big = "Subject: big\r\n\r\n" + string.Concat(Enumerable.Repeat(new string('x', 998) + "\r\n", 3000));
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), big);
        Assert.Equal(451, outcome.Final.Code);
        Assert.Equal("4.4.2", outcome.Final.EnhancedCode);
        Assert.Empty(_server.Messages);
        Assert.Single(_server.AbandonedData);
    }

    [Theory]
    [InlineData("MAIL", "HTTP/1.1 400 Bad Request")]
    [InlineData("RCPT", "250 ok\0")]
    [InlineData(".", "2500 nonsense")]
    [InlineData("DATA", "250 2.0.0 Ok")]
    [InlineData(".", "354 more please")]
    public async Task Deliver_GarbageReply_Transient(string verb, string reply)
    {
        _server.Respond = c => c.Verb == verb ? reply : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(451, outcome.Final.Code);
        Assert.Equal("4.4.2", outcome.Final.EnhancedCode);
        Assert.True(outcome.AnyTransient);
        Assert.Equal(0, client.IdleConnections);
    }

    [Fact]
    public async Task Deliver_AbandonedAfter354_NoDotSent()
    {
        // A 354 to DATA although every recipient was refused: the client must not send data, and closes.
        _server.Respond = c => c.Verb == "RCPT" ? "550 5.1.1 no" : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(550, outcome.Final.Code);
        await WaitUntil(() => _server.ClosedConnections == 1);
        Assert.Empty(_server.Messages);
        Assert.Equal(0, client.IdleConnections);
    }

    [Fact]
    public async Task Deliver_TwoMessages_ReuseOneConnection()
    {
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome a = await DeliverAsync(client, Envelope(), Simple);
        DeliveryOutcome b = await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal("QID1", a.QueuedAs);
        Assert.Equal("QID2", b.QueuedAs);
        Assert.Equal(1, _server.Connections);
        Assert.Equal(2, _server.Lines("XFORWARD").Count());
        Assert.Equal(1, client.IdleConnections);
    }

    [Fact]
    public async Task Deliver_NextHopClosedIdleConnection_ReopensWithoutFailing()
    {
        _server.CloseAfterTransaction = true;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome a = await DeliverAsync(client, Envelope(), Simple);
        await WaitUntil(() => _server.ClosedConnections == 1);
        DeliveryOutcome b = await DeliverAsync(client, Envelope(), Simple);
        Assert.True(a.AnyAccepted);
        Assert.True(b.AnyAccepted);
        Assert.Equal(2, _server.Connections);
        Assert.Equal(2, _server.Messages.Count);
    }

    [Theory]
    [InlineData(ScriptedSmtpServer.Close)]
    [InlineData("421 4.4.2 fake.example Error: timeout exceeded")]
    public async Task Deliver_ReusedConnectionDiesAtFirstCommand_ReplayedOnFreshConnection(string firstReply)
    {
        // The race a liveness poll cannot see: the next hop closes just after we picked the idle connection.
        _server.Respond = c => c.Connection == 1 && c.Verb == "XFORWARD" && _server.Messages.Count == 1 ? firstReply : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome a = await DeliverAsync(client, Envelope(), Simple);
        DeliveryOutcome b = await DeliverAsync(client, Envelope(), Simple);
        Assert.True(a.AnyAccepted);
        Assert.True(b.AnyAccepted, b.Final.ToString());
        Assert.Equal(2, _server.Connections);
        Assert.Equal(2, _server.Messages.Count);
    }

    [Fact]
    public async Task Deliver_FreshConnectionClosedAtFirstCommand_TransientNotRetried()
    {
        _server.Respond = c => c.Verb == "XFORWARD" ? ScriptedSmtpServer.Close : null;
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome outcome = await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(451, outcome.Final.Code);
        Assert.Equal(1, _server.Connections);
    }

    [Fact]
    public async Task Deliver_DotReplyNeverComes_DataDoneTimeoutGivesTransient()
    {
        _server.Respond = c => c.Verb == "." ? ScriptedSmtpServer.Hang : null;
        await using SmtpNextHopClient client = Client();
        var (spool, headers) = await SpoolAsync(Simple);
        await using (spool)
        {
            Task<DeliveryOutcome> delivery = client.DeliverAsync(Envelope(), spool, headers, Array.Empty<HeaderEdit>(), CancellationToken.None);
            await WaitUntil(() => _server.Messages.Count == 1);
            _time.Advance(TimeSpan.FromSeconds(599));
            await Task.Delay(50);
            Assert.False(delivery.IsCompleted);
            _time.Advance(TimeSpan.FromSeconds(2));
            DeliveryOutcome outcome = await delivery.WaitAsync(TestTimeout);
            Assert.Equal(451, outcome.Final.Code);
            Assert.Contains("end of data within 600 s", outcome.Final.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Deliver_CommandReplyNeverComes_CommandTimeoutGivesTransient()
    {
        _server.Respond = c => c.Verb == "MAIL" ? ScriptedSmtpServer.Hang : null;
        await using SmtpNextHopClient client = Client(o => o.CommandTimeout = TimeSpan.FromSeconds(30));
        var (spool, headers) = await SpoolAsync(Simple);
        await using (spool)
        {
            Task<DeliveryOutcome> delivery = client.DeliverAsync(Envelope(), spool, headers, Array.Empty<HeaderEdit>(), CancellationToken.None);
            await WaitUntil(() => _server.Lines("MAIL").Any());
            await Task.Delay(50);
            _time.Advance(TimeSpan.FromSeconds(31));
            DeliveryOutcome outcome = await delivery.WaitAsync(TestTimeout);
            Assert.Equal(451, outcome.Final.Code);
            Assert.Equal("4.4.2", outcome.Final.EnhancedCode);
            Assert.Contains("no reply to MAIL FROM within 30 s", outcome.Final.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Pool_IdleTimeoutPasses_ConnectionClosedWithQuit()
    {
        await using SmtpNextHopClient client = Client(o => o.IdleTimeout = TimeSpan.FromSeconds(60));
        await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(1, client.IdleConnections);
        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(0, client.IdleConnections);
        await WaitUntil(() => _server.Lines("QUIT").Any());
        await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(2, _server.Connections);
    }

    [Fact]
    public async Task Pool_MaxIdleZero_ClosesAfterEachMessage()
    {
        await using SmtpNextHopClient client = Client(o => o.MaxIdleConnections = 0);
        await DeliverAsync(client, Envelope(), Simple);
        await DeliverAsync(client, Envelope(), Simple);
        Assert.Equal(2, _server.Connections);
        Assert.Equal(0, client.IdleConnections);
    }

    [Fact]
    public async Task Deliver_ConcurrentMessages_EachGetsItsOwnConnection()
    {
        await using SmtpNextHopClient client = Client();
        DeliveryOutcome[] outcomes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => DeliverAsync(client, Envelope(), Simple)));
        Assert.All(outcomes, o => Assert.True(o.AnyAccepted));
        Assert.Equal(4, _server.Messages.Count);
        Assert.True(client.IdleConnections <= 4);
    }

    [Fact]
    public async Task Deliver_CallerCancels_Throws()
    {
        _server.Respond = c => c.Verb == "MAIL" ? ScriptedSmtpServer.Hang : null;
        await using SmtpNextHopClient client = Client();
        var (spool, headers) = await SpoolAsync(Simple);
        await using (spool)
        {
            using var cts = new CancellationTokenSource();
            Task<DeliveryOutcome> delivery = client.DeliverAsync(Envelope(), spool, headers, Array.Empty<HeaderEdit>(), cts.Token);
            await WaitUntil(() => _server.Lines("MAIL").Any());
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => delivery.WaitAsync(TestTimeout));
        }
    }

    [Theory]
    [InlineData("127.0.0.1:10025", "smtp:[127.0.0.1]:10025")]
    [InlineData("inet:[::1]:10025", "smtp:[::1]:10025")]
    [InlineData("unix:/run/cf/next.sock", "smtp:unix:/run/cf/next.sock")]
    [InlineData(null, "smtp:[127.0.0.1]:10025")]
    public void Options_Endpoint_Described(string? endpoint, string expected)
    {
        Assert.Equal(expected, new NextHopOptions { Endpoint = endpoint }.DescribePeer());
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("unix:")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:99999")]
    public void Options_BadEndpoint_Invalid(string endpoint)
    {
        Assert.NotEmpty(new NextHopOptions { Endpoint = endpoint }.Validate());
    }

    [Theory]
    [InlineData("Ok: queued as 5F3A21C0B7", "5F3A21C0B7")]
    [InlineData("2.0.0 Ok: queued as 4Kd7L0pQ2s", "4Kd7L0pQ2s")]
    [InlineData("Ok", null)]
    public void ParseQueuedAs_PostfixTexts_FindsId(string text, string? expected)
    {
        Assert.Equal(expected, SmtpNextHopClient.ParseQueuedAs(text));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        // Real sockets: poll a few ms at a time, bounded.
        for (int i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition(), "condition not reached");
    }
}
