using System.Text;
using System.Text.RegularExpressions;
using ContentFilter.Frontends.Delivery;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;
using static ContentFilter.Frontends.Tests.Delivery.NextHopTestMessages;

namespace ContentFilter.Frontends.Tests.Delivery;

/// <summary>The next-hop client against a real peer: Postfix's smtp-sink, each transaction dumped to a file.</summary>
public sealed class SmtpNextHopClientSinkTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static SmtpNextHopClient Client(SmtpSinkProcess sink, int maxIdle = 4) =>
        new(new NextHopOptions { Endpoint = sink.Endpoint, HeloName = "filter.example", MaxIdleConnections = maxIdle }, TimeProvider.System, NullLogger<SmtpNextHopClient>.Instance);

    private static async Task<DeliveryOutcome> DeliverAsync(SmtpNextHopClient client, byte[] message, Envelope? envelope = null)
    {
        var (spool, headers) = await SpoolAsync(message, inMemoryThreshold: 32 * 1024);
        await using (spool)
        {
            return await client.DeliverAsync(envelope ?? Envelope(), spool, headers, Array.Empty<HeaderEdit>(), CancellationToken.None).WaitAsync(Wait);
        }
    }

    /// <summary>The documented stuffing rule, written independently of SmtpDotStuffer: a dot after CR, LF or at the start is doubled.</summary>
    private static byte[] ReferenceWire(byte[] message)
    {
        string s = Encoding.Latin1.GetString(message);
        s = Regex.Replace(s, @"(?<=^|[\r\n])\.", "..");
        return Encoding.Latin1.GetBytes(s);
    }

    public static TheoryData<string, string> CrLfMessages => new()
    {
        { "7bit", "From: a@example.org\r\nSubject: plain\r\n\r\nHello world\r\n" },
        { "8bit", "From: a@example.org\r\nSubject: =?UTF-8?Q?x?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, naïve café — ✓\r\n" },
        { "long lines", "Subject: long\r\n\r\n" + new string('a', 5000) + "\r\n" + new string('b', 998) + "\r\n" },
        { "dot lines", "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n...three\r\nmid.dle.\r\n.\r\n" },
        { "no final crlf", "Subject: open end\r\n\r\nlast line without end" },
        { "empty body", "Subject: nothing\r\n\r\n" },
    };

    [SkippableTheory]
    [MemberData(nameof(CrLfMessages))]
    public async Task Deliver_ToSmtpSink_DumpEqualsMessage(string name, string text)
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using SmtpNextHopClient client = Client(sink);
        byte[] message = Encoding.UTF8.GetBytes(text);

        DeliveryOutcome outcome = await DeliverAsync(client, message);

        Assert.True(outcome.AnyAccepted, name + ": " + outcome.Final);
        SmtpSinkDump dump = Assert.Single(await sink.WaitForDumpsAsync(1, Wait));
        // A receiver that only knows CRLF gets the message back exactly; the sink writes LF for CRLF.
        string expected = text.EndsWith("\r\n", StringComparison.Ordinal) ? text : text + "\r\n";
        Assert.Equal(Encoding.UTF8.GetBytes(expected.Replace("\r\n", "\n", StringComparison.Ordinal)), dump.Body);
        Assert.Equal("<sender@example.org> BODY=8BITMIME", dump.Get("X-Mail-Args").Single());
        Assert.Equal("<rcpt@example.net>", dump.Get("X-Rcpt-Args").Single());
        Assert.Equal("filter.example", dump.Get("X-Helo-Args").Single());
    }

    public static TheoryData<string> SmugglingBodies => new()
    {
        "x\n.\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nsmuggled\r\n",
        "x\r.\rMAIL FROM:<evil@example.com>\r\n",
        "x\n.\r\nMAIL FROM:<evil@example.com>\r\n",
        "x\r.\nMAIL FROM:<evil@example.com>\r\n",
        "x\r\n.\nMAIL FROM:<evil@example.com>\r\n",
        "x\r\n.\rMAIL FROM:<evil@example.com>\r\n",
        "ends in bare lf dot\n.",
        "x\r\n.\r\nMAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nsmuggled\r\n",
    };

    [SkippableTheory]
    [MemberData(nameof(SmugglingBodies))]
    public async Task Deliver_SmugglingSequencesToSmtpSink_ExactlyOneMessage(string body)
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using SmtpNextHopClient client = Client(sink);
        byte[] message = Encoding.Latin1.GetBytes("Subject: smuggling\r\n\r\n" + body);

        DeliveryOutcome outcome = await DeliverAsync(client, message);
        // A second transaction on the same connection would show up as a second dump.
        DeliveryOutcome after = await DeliverAsync(client, Encoding.ASCII.GetBytes("Subject: after\r\n\r\nok\r\n"));

        Assert.True(outcome.AnyAccepted);
        Assert.True(after.AnyAccepted);
        IReadOnlyList<SmtpSinkDump> dumps = await sink.WaitForDumpsAsync(2, Wait);
        Assert.Equal(2, dumps.Count);
        Assert.All(dumps, d => Assert.Equal("<sender@example.org> BODY=8BITMIME", d.Get("X-Mail-Args").Single()));
        Assert.All(dumps, d => Assert.Equal("<rcpt@example.net>", d.Get("X-Rcpt-Args").Single()));
        SmtpSinkDump first = dumps.Single(d => Encoding.ASCII.GetString(d.Body).Contains("smuggling", StringComparison.Ordinal));
        byte[] wire = ReferenceWire(message);
        if (!(message.Length >= 2 && message[^2] == '\r' && message[^1] == '\n'))
        {
            wire = wire.Concat("\r\n"u8.ToArray()).ToArray();
        }
        Assert.Equal(SmtpSinkProcess.SinkView(wire), first.Body);
    }

    [SkippableFact]
    public async Task Deliver_TwoMessagesToSmtpSink_BothDumped()
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync();
        await using SmtpNextHopClient client = Client(sink);
        Assert.True((await DeliverAsync(client, Encoding.ASCII.GetBytes(Simple))).AnyAccepted);
        Assert.True((await DeliverAsync(client, Encoding.ASCII.GetBytes(Simple))).AnyAccepted);
        Assert.Equal(1, client.ConnectionsOpened);
        Assert.Equal(2, (await sink.WaitForDumpsAsync(2, Wait)).Count);
    }

    [SkippableFact]
    public async Task Deliver_SinkRestartedBetweenMessages_SecondMessageStillDelivered()
    {
        // amavis's known weakness (TESTKIT): a cached connection to a restarted next hop costs a 451. Ours reconnects.
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink not installed");
        string folder = Path.Combine(Path.GetTempPath(), "cf-sink-restart-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        try
        {
            string path = Path.Combine(folder, "next-hop.sock");
            SmtpSinkProcess first = await SmtpSinkProcess.StartAsync(unixSocket: true, socketPath: path);
            await using SmtpNextHopClient client = Client(first);
            Assert.True((await DeliverAsync(client, Encoding.ASCII.GetBytes(Simple))).AnyAccepted);
            Assert.Equal(1, client.IdleConnections);
            await first.DisposeAsync();
            File.Delete(path);

            await using SmtpSinkProcess second = await SmtpSinkProcess.StartAsync(unixSocket: true, socketPath: path);
            DeliveryOutcome outcome = await DeliverAsync(client, Encoding.ASCII.GetBytes(Simple));
            Assert.True(outcome.AnyAccepted, outcome.Final.ToString());
            Assert.Equal(2, client.ConnectionsOpened);
            Assert.Single(await second.WaitForDumpsAsync(1, Wait));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Deliver_OverUnixSocket_Delivered()
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync(unixSocket: true);
        await using SmtpNextHopClient client = Client(sink);
        DeliveryOutcome outcome = await DeliverAsync(client, Encoding.ASCII.GetBytes(Simple));
        Assert.True(outcome.AnyAccepted, outcome.Final.ToString());
        Assert.Single(await sink.WaitForDumpsAsync(1, Wait));
    }

    [SkippableTheory]
    [InlineData(new[] { "-r", "rcpt" }, 450, true)]
    [InlineData(new[] { "-f", "rcpt" }, 500, false)]
    [InlineData(new[] { "-r", "mail" }, 450, true)]
    [InlineData(new[] { "-f", "data" }, 500, false)]
    [InlineData(new[] { "-f", "." }, 500, false)]
    [InlineData(new[] { "-r", "." }, 450, true)]
    [InlineData(new[] { "-Q", "mail" }, 421, true)]
    [InlineData(new[] { "-q", "data" }, 451, true)]
    [InlineData(new[] { "-q", "." }, 451, true)]
    [InlineData(new[] { "-q", "ehlo" }, 451, true)]
    public async Task Deliver_SmtpSinkRefusesOrDrops_OutcomeTypedByCause(string[] options, int code, bool transient)
    {
        Skip.IfNot(SmtpSinkProcess.IsAvailable, "smtp-sink not installed");
        await using SmtpSinkProcess sink = await SmtpSinkProcess.StartAsync(options);
        await using SmtpNextHopClient client = Client(sink);
        DeliveryOutcome outcome = await DeliverAsync(client, Encoding.ASCII.GetBytes(Simple));
        Assert.Equal(code, outcome.Final.Code);
        Assert.Equal(transient, outcome.AnyTransient);
        Assert.False(outcome.AnyAccepted);
    }
}
