using System.Net;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Frontends.Policy;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Frontends.Tests.Policy;

public class PolicySessionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static string Request(string recipient = "bob@example.net", string state = "RCPT", string? extra = null) =>
        "request=smtpd_access_policy\n" +
        $"protocol_state={state}\n" +
        "protocol_name=ESMTP\n" +
        "client_address=192.0.2.10\n" +
        "client_name=mail.example.com\n" +
        "helo_name=mail.example.com\n" +
        "sender=alice@example.com\n" +
        $"recipient={recipient}\n" +
        "instance=8f2a.5e4c1d2b.a1b2c.0\n" +
        "etrn_domain=\n" +
        (extra ?? "") +
        "\n";

    private sealed class FakeGreylist(Func<GreylistRequest, CancellationToken, Task<GreylistDecision>> decide) : IGreylist
    {
        public List<GreylistRequest> Asked { get; } = [];

        public Task<GreylistDecision> CheckAsync(GreylistRequest request, CancellationToken cancellationToken)
        {
            lock (Asked)
            {
                Asked.Add(request);
            }
            return decide(request, cancellationToken);
        }
    }

    private static readonly GreylistDecision Defer = new(GreylistAction.Defer, "new", "4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.net.html", null);

    private static (PolicySession Session, ListLogger<PolicySession> Log) Create(IGreylist greylist, TimeProvider? time = null, PolicySessionOptions? options = null)
    {
        var log = new ListLogger<PolicySession>();
        return (new PolicySession(options ?? new PolicySessionOptions(), greylist, time ?? TimeProvider.System, log), log);
    }

    private static async Task<string?> ReadReplyAsync(InMemoryConnection connection)
    {
        string? action = await connection.ReadLineAsync(new CancellationTokenSource(Wait).Token);
        if (action is null)
        {
            return null;
        }
        Assert.Equal("", await connection.ReadLineAsync(new CancellationTokenSource(Wait).Token));
        return action;
    }

    [Fact]
    public async Task Rcpt_NewTriplet_DeferIfPermitWithPostgreyText()
    {
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, _) = Create(greylist);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        await connection.SendAsync(Request());

        Assert.Equal("action=DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.net.html", await ReadReplyAsync(connection));
        GreylistRequest asked = Assert.Single(greylist.Asked);
        Assert.Equal(IPAddress.Parse("192.0.2.10"), asked.ClientAddress);
        Assert.Equal("mail.example.com", asked.ClientName);
        Assert.Equal("alice@example.com", asked.Sender);
        Assert.Equal("bob@example.net", asked.Recipient);
        Assert.Equal("8f2a.5e4c1d2b.a1b2c.0", asked.Instance);
        Assert.Equal("mail.example.com", asked.Helo);
        await connection.CompleteClientAsync();
        await run.WaitAsync(Wait);
    }

    [Fact]
    public async Task Connection_SeveralRequests_EachAnsweredInOrder()
    {
        var greylist = new FakeGreylist((r, _) => Task.FromResult(r.Recipient switch
        {
            "a@example.net" => Defer,
            "b@example.net" => new GreylistDecision(GreylistAction.Pass, "triplet found", null, "X-Greylist: delayed 300 seconds by contentfilter-1.0 at mx.test; Tue, 24 Nov 2026 12:05:00 +0000"),
            _ => new GreylistDecision(GreylistAction.Pass, "client whitelist", null, null),
        }));
        (PolicySession session, _) = Create(greylist);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        await connection.SendAsync(Request("a@example.net"));
        string? first = await ReadReplyAsync(connection);
        await connection.SendAsync(Request("b@example.net").Replace("\n", "\r\n"));
        string? second = await ReadReplyAsync(connection);
        await connection.SendAsync(Request("c@example.net") + Request("d@example.net"));
        string? third = await ReadReplyAsync(connection);
        string? fourth = await ReadReplyAsync(connection);

        Assert.StartsWith("action=DEFER_IF_PERMIT 4.2.0 Greylisted", first);
        Assert.Equal("action=PREPEND X-Greylist: delayed 300 seconds by contentfilter-1.0 at mx.test; Tue, 24 Nov 2026 12:05:00 +0000", second);
        Assert.Equal("action=DUNNO", third);
        Assert.Equal("action=DUNNO", fourth);
        await connection.CompleteClientAsync();
        await run.WaitAsync(Wait);
        Assert.Null(await connection.ReadLineAsync());
    }

    [Fact]
    public async Task Request_ByteAtATime_SameAnswer()
    {
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, _) = Create(greylist);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        foreach (char c in Request())
        {
            await connection.SendAsync(c.ToString());
        }

        Assert.StartsWith("action=DEFER_IF_PERMIT ", await ReadReplyAsync(connection));
        await connection.CompleteClientAsync();
        await run.WaitAsync(Wait);
    }

    [Theory]
    [InlineData("CONNECT")]
    [InlineData("MAIL")]
    [InlineData("DATA")]
    [InlineData("END-OF-MESSAGE")]
    public async Task OtherProtocolState_Dunno_GreylistNotAsked(string state)
    {
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, _) = Create(greylist);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        await connection.SendAsync(Request(state: state));

        Assert.Equal("action=DUNNO", await ReadReplyAsync(connection));
        Assert.Empty(greylist.Asked);
        await connection.CompleteClientAsync();
        await run.WaitAsync(Wait);
    }

    [Theory]
    [InlineData("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_name=x\nsender=a@b\nrecipient=c@d\n\n")]
    [InlineData("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=unknown\nclient_name=x\nsender=a@b\nrecipient=c@d\n\n")]
    [InlineData("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nsender=a@b\nrecipient=c@d\n\n")]
    [InlineData("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nclient_name=x\nrecipient=c@d\n\n")]
    [InlineData("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\nclient_name=x\nsender=a@b\nrecipient=\n\n")]
    [InlineData("request=something_else\nprotocol_state=RCPT\nclient_address=192.0.2.1\nclient_name=x\nsender=a@b\nrecipient=c@d\n\n")]
    [InlineData("protocol_state=RCPT\nclient_address=192.0.2.1\nclient_name=x\nsender=a@b\nrecipient=c@d\n\n")]
    public async Task MissingAttributeOrOtherRequest_Dunno(string request)
    {
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, _) = Create(greylist);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        await connection.SendAsync(request);

        Assert.Equal("action=DUNNO", await ReadReplyAsync(connection));
        Assert.Empty(greylist.Asked);
        await connection.CompleteClientAsync();
        await run.WaitAsync(Wait);
    }

    [Fact]
    public async Task NullSender_EmptyValue_StillGreylisted()
    {
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, _) = Create(greylist);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        await connection.SendAsync(Request().Replace("sender=alice@example.com", "sender="));

        Assert.StartsWith("action=DEFER_IF_PERMIT", await ReadReplyAsync(connection));
        Assert.Equal("", Assert.Single(greylist.Asked).Sender);
        await connection.CompleteClientAsync();
        await run.WaitAsync(Wait);
    }

    [Fact]
    public async Task GreylistThrows_NoReplyAndClosed()
    {
        var greylist = new FakeGreylist((_, _) => Task.FromException<GreylistDecision>(new IOException("database is locked")));
        (PolicySession session, ListLogger<PolicySession> log) = Create(greylist);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        await connection.SendAsync(Request());

        Assert.Null(await connection.ReadLineAsync(new CancellationTokenSource(Wait).Token));
        await run.WaitAsync(Wait);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Error && e.Id.Id == 6106 && e.Message.Contains("default action"));
    }

    [Fact]
    public async Task GreylistHangs_DecisionTimeout_NoReplyAndClosed()
    {
        var time = new FakeTimeProvider();
        var greylist = new FakeGreylist(async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return Defer;
        });
        (PolicySession session, ListLogger<PolicySession> log) = Create(greylist, time);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);
        await connection.SendAsync(Request());

        int seconds = await AdvanceUntilDoneAsync(time, run, 10);

        Assert.InRange(seconds, 10, 11);
        Assert.Null(await connection.ReadLineAsync(new CancellationTokenSource(Wait).Token));
        Assert.Contains(log.Entries, e => e.Id.Id == 6105);
    }

    [Fact]
    public async Task EofInsideRequest_NoReplyClearLog()
    {
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, ListLogger<PolicySession> log) = Create(greylist);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        await connection.SendAsync("request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=bob@exa");
        await connection.CompleteClientAsync();

        await run.WaitAsync(Wait);
        Assert.Null(await connection.ReadLineAsync());
        Assert.Empty(greylist.Asked);
        Assert.Contains(log.Entries, e => e.Id.Id == 6102 && e.Message.Contains("middle of a request"));
    }

    public static TheoryData<string> HostileCorpusCases => ContentFilter.Testing.Hostile.HostileCorpus.Names("policy");

    /// <summary>The policy files of testdata/hostile (the same corpus the real service is run against), in-process:
    /// no reply, a warning, the greylist never asked, the session over. Slow-client cases run on the fake clock.</summary>
    [Theory]
    [MemberData(nameof(HostileCorpusCases))]
    public async Task HostileCorpus_ClosedWithoutReply(string file)
    {
        var hostile = ContentFilter.Testing.Hostile.HostileCorpus.Get("policy", file);
        var time = new FakeTimeProvider();
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        // The service runs the corpus with these timeouts too.
        (PolicySession session, ListLogger<PolicySession> log) = Create(greylist, time, new PolicySessionOptions { RequestTimeoutSeconds = 2, IdleTimeoutSeconds = 5 });
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);

        byte[] input = hostile.Payload();
        if (hostile.IntervalMs is int interval)
        {
            for (int i = 0; i < input.Length && !run.IsCompleted; i++)
            {
                await connection.SendAsync(input.AsMemory(i, 1));
                await Task.Delay(2);
                time.Advance(TimeSpan.FromMilliseconds(interval));
            }
        }
        else
        {
            await connection.SendAsync(input);
            await connection.CompleteClientAsync(); // a request without its end must not wait for more
        }

        await run.WaitAsync(Wait);
        Assert.Null(await connection.ReadLineAsync());
        Assert.Empty(greylist.Asked);
        Assert.Contains(log.Entries, e => e.Level >= LogLevel.Warning && e.Id.Id is >= 6100 and < 6200);
    }

    [Fact]
    public async Task Idle_ClosedAfterIdleTimeoutNotBefore()
    {
        var time = new FakeTimeProvider();
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, _) = Create(greylist, time);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);
        await connection.SendAsync(Request());
        Assert.NotNull(await ReadReplyAsync(connection));

        int seconds = await AdvanceUntilDoneAsync(time, run, 330);

        Assert.InRange(seconds, 330, 331);
        Assert.Null(await connection.ReadLineAsync());
    }

    [Fact]
    public async Task SlowRequest_ClosedAfterRequestTimeout()
    {
        var time = new FakeTimeProvider();
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, ListLogger<PolicySession> log) = Create(greylist, time);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);
        await connection.SendAsync("request=smtpd_access_policy\n");

        int seconds = await AdvanceUntilDoneAsync(time, run, 100);

        Assert.InRange(seconds, 100, 101);
        Assert.Contains(log.Entries, e => e.Id.Id == 6104);
    }

    [Fact]
    public async Task SlowRequest_ByteEveryTenSeconds_ClosedAfterRequestTimeoutNotPerRead()
    {
        var time = new FakeTimeProvider();
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, ListLogger<PolicySession> log) = Create(greylist, time);
        await using var connection = new InMemoryConnection("policy");
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);
        string request = Request();
        int seconds = 0;
        for (int i = 0; i < request.Length && !run.IsCompleted; i++)
        {
            await connection.SendAsync(request[i].ToString());
            await Task.Delay(5);
            time.Advance(TimeSpan.FromSeconds(10));
            seconds += 10;
            await Task.WhenAny(run, Task.Delay(10));
        }

        Assert.True(run.IsCompleted, "a byte every 10 s held the connection past the 100 s request timeout");
        Assert.InRange(seconds, 100, 120);
        Assert.Null(await connection.ReadLineAsync());
        Assert.Contains(log.Entries, e => e.Id.Id == 6104);
    }

    [Fact]
    public async Task Stopping_BetweenRequests_Closes()
    {
        using var stopping = new CancellationTokenSource();
        var greylist = new FakeGreylist((_, _) => Task.FromResult(Defer));
        (PolicySession session, _) = Create(greylist);
        await using var connection = new InMemoryConnection("policy", stopping: stopping.Token);
        Task run = session.HandleAsync(connection.Context, CancellationToken.None);
        await connection.SendAsync(Request());
        Assert.NotNull(await ReadReplyAsync(connection));

        stopping.Cancel();

        await run.WaitAsync(Wait);
    }

    [Fact]
    public async Task RealEngine_FirstDeferredRetryPassesWithHeader()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        string dir = Directory.CreateTempSubdirectory("cf-policy-").FullName;
        try
        {
            await using var store = new SqliteGreylistStore(Path.Combine(dir, "greylist.db"));
            var engine = new GreylistEngine(new GreylistOptions { HostName = "mx.test", WhitelistClientFiles = [], WhitelistRecipientFiles = [] }, store, [], time, NullLogger<GreylistEngine>.Instance);
            (PolicySession session, _) = Create(engine, time);
            await using var connection = new InMemoryConnection("policy");
            Task run = session.HandleAsync(connection.Context, CancellationToken.None);

            await connection.SendAsync(Request());
            string? first = await ReadReplyAsync(connection);
            time.Advance(TimeSpan.FromSeconds(301));
            await connection.SendAsync(Request());
            string? second = await ReadReplyAsync(connection);
            await connection.SendAsync(Request());
            string? third = await ReadReplyAsync(connection);

            Assert.Equal("action=DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.net.html", first);
            Assert.Matches(@"^action=PREPEND X-Greylist: delayed 301 seconds by contentfilter-[0-9.]+ at mx\.test; Tue, 24 Nov 2026 12:05:01 \+0000$", second);
            Assert.Equal("action=DUNNO", third);
            await connection.CompleteClientAsync();
            await run.WaitAsync(Wait);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Advances the fake clock to one second before <paramref name="expected"/>, checks the session is still open,
    /// then a second at a time until it ends; returns the seconds advanced.
    /// </summary>
    private static async Task<int> AdvanceUntilDoneAsync(FakeTimeProvider time, Task run, int expected)
    {
        await Task.Delay(200); // let the session reach its read (or the greylist call) and arm its timer
        time.Advance(TimeSpan.FromSeconds(expected - 1));
        Assert.False(await Task.WhenAny(run, Task.Delay(200)) == run, "the session closed before its timeout");
        for (int extra = 0; extra < 5; extra++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            if (await Task.WhenAny(run, Task.Delay(3000)) == run)
            {
                await run;
                return expected + extra;
            }
        }
        throw new TimeoutException("session did not end");
    }
}
