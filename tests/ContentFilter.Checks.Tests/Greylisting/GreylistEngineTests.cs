using System.Net;
using ContentFilter.Checks.Dns;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Checks.Tests.Greylisting;

public class GreylistEngineTests : IClassFixture<GreylistStoreFixture>
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly GreylistRequest Request = new(IPAddress.Parse("192.0.2.10"), "mail.example.com", "alice@example.com", "bob@example.net", "inst1", "mail.example.com");

    private readonly GreylistStoreFixture _fixture;

    public GreylistEngineTests(GreylistStoreFixture fixture)
    {
        _fixture = fixture;
    }

    private GreylistEngine Engine(FakeTimeProvider time, IEnumerable<IGreylistExemption>? exemptions = null, Action<GreylistOptions>? configure = null, ILogger<GreylistEngine>? logger = null, IAuditSink? audit = null, IGreylistStore? store = null)
    {
        var options = new GreylistOptions { HostName = "mx.test", WhitelistClientFiles = [], WhitelistRecipientFiles = [] };
        configure?.Invoke(options);
        return new GreylistEngine(options, store ?? new SqliteGreylistStore(_fixture.NewSqlitePath()), exemptions ?? [], time, logger ?? new ListLogger<GreylistEngine>(), audit);
    }

    [Fact]
    public async Task SpfExemption_Passes_WithoutTouchingTheTriplet()
    {
        var time = new FakeTimeProvider(Start);
        var spf = new DelegateGreylistExemption("spf pass", (r, _) => Task.FromResult(r.Sender.EndsWith("@example.com", StringComparison.Ordinal)));
        GreylistEngine engine = Engine(time, [spf]);

        GreylistDecision exempt = await engine.CheckAsync(Request, CancellationToken.None);
        GreylistDecision other = await engine.CheckAsync(Request with { Sender = "x@elsewhere.test" }, CancellationToken.None);

        Assert.Equal((GreylistAction.Pass, "spf pass"), (exempt.Action, exempt.Reason));
        Assert.Null(exempt.PrependHeader);
        Assert.Equal((GreylistAction.Defer, "new"), (other.Action, other.Reason));
    }

    [Theory]
    [InlineData("v=spf1 ip4:192.0.2.0/24 -all", "spf pass")]
    [InlineData("v=spf1 -all", "new")]
    public async Task SpfGreylistExemption_InEngine_PassesOnlyWhenSpfPasses(string record, string reason)
    {
        var time = new FakeTimeProvider(Start);
        var dns = new ContentFilter.Testing.Daemons.DictionaryDnsResolver().AddTxt("example.com", record);
        var spf = new SpfGreylistExemption(dns, new ContentFilter.Checks.Spf.SpfOptions { ReceiverName = "mx.test" }, time);
        GreylistEngine engine = Engine(time, [spf]);

        GreylistDecision decision = await engine.CheckAsync(Request, CancellationToken.None);

        Assert.Equal(reason, decision.Reason);
        Assert.Equal(reason == "new" ? GreylistAction.Defer : GreylistAction.Pass, decision.Action);
    }

    [Fact]
    public async Task ExemptionThrows_ClientGreylisted()
    {
        var time = new FakeTimeProvider(Start);
        var broken = new DelegateGreylistExemption("spf pass", (_, _) => throw new TimeoutException("dns"));
        var log = new ListLogger<GreylistEngine>();
        GreylistEngine engine = Engine(time, [broken], logger: log);

        GreylistDecision decision = await engine.CheckAsync(Request, CancellationToken.None);

        Assert.Equal((GreylistAction.Defer, "new"), (decision.Action, decision.Reason));
        Assert.Contains(log.Entries, e => e.Id.Id == 6206);
    }

    [Theory]
    [InlineData("mta7.mail.bigsender.example.", "192.0.2.10", true)]
    [InlineData("mta7.mail.bigsender.example.", "192.0.2.99", false)]
    [InlineData("host.notbigsender.example.", "192.0.2.10", false)]
    public async Task FcrdnsExemption_ForwardConfirmedUnderListedDomain_Passes(string ptr, string forward, bool passes)
    {
        var time = new FakeTimeProvider(Start);
        var dns = new FakeDns(ptr, forward);
        GreylistEngine engine = Engine(time, [new FcrdnsGreylistExemption(dns, ["bigsender.example", "other.example"])]);

        GreylistDecision decision = await engine.CheckAsync(Request, CancellationToken.None);

        Assert.Equal(passes ? "fcrdns whitelist" : "new", decision.Reason);
    }

    [Fact]
    public async Task FcrdnsExemption_DnsTempError_Greylisted()
    {
        var time = new FakeTimeProvider(Start);
        GreylistEngine engine = Engine(time, [new FcrdnsGreylistExemption(new FakeDns(null, null), ["bigsender.example"])]);

        GreylistDecision decision = await engine.CheckAsync(Request, CancellationToken.None);

        Assert.Equal("new", decision.Reason);
    }

    [Fact]
    public async Task Decisions_LoggedLikePostgrey()
    {
        var time = new FakeTimeProvider(Start);
        var log = new ListLogger<GreylistEngine>();
        GreylistEngine engine = Engine(time, logger: log);

        await engine.CheckAsync(Request, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(310));
        await engine.CheckAsync(Request, CancellationToken.None);

        Assert.Contains(log.Entries, e => e.Level == LogLevel.Information && e.Id.Id == 6201
            && e.Message == "action=greylist, reason=new, client_name=mail.example.com, client_address=192.0.2.10, sender=alice@example.com, recipient=bob@example.net");
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Information && e.Id.Id == 6202
            && e.Message == "action=pass, reason=triplet found, delay=310, client_name=mail.example.com, client_address=192.0.2.10, sender=alice@example.com, recipient=bob@example.net");
    }

    [Fact]
    public async Task AuditSink_GetsOneRecordPerDecision_OwnLineDropsToDebug()
    {
        var time = new FakeTimeProvider(Start);
        var log = new ListLogger<GreylistEngine>();
        var audit = new ListAudit();
        GreylistEngine engine = Engine(time, logger: log, audit: audit);

        await engine.CheckAsync(Request, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(300));
        await engine.CheckAsync(Request, CancellationToken.None);

        Assert.Equal(2, audit.Records.Count);
        Assert.Equal(("greylist", "new", (double?)null), (audit.Records[0].Action, audit.Records[0].Reason, audit.Records[0].DelaySeconds));
        Assert.Equal(("pass", "triplet found", (double?)300), (audit.Records[1].Action, audit.Records[1].Reason, audit.Records[1].DelaySeconds));
        Assert.Equal("192.0.2.10", audit.Records[0].ClientAddress);
        Assert.All(log.Entries.Where(e => e.Id.Id is 6201 or 6202), e => Assert.Equal(LogLevel.Debug, e.Level));
    }

    [Fact]
    public async Task Reload_RereadsWhitelistFiles()
    {
        string dir = Directory.CreateTempSubdirectory("cf-reload-").FullName;
        try
        {
            string clients = Path.Combine(dir, "whitelist_clients");
            File.WriteAllText(clients, "# empty\n");
            var time = new FakeTimeProvider(Start);
            GreylistEngine engine = Engine(time, configure: o => { o.WhitelistClientFiles = [clients, clients + ".local"]; o.WhitelistRecipientFiles = []; });
            GreylistDecision before = await engine.CheckAsync(Request, CancellationToken.None);

            File.WriteAllText(clients + ".local", "example.com\n");
            engine.Reload();
            GreylistDecision after = await engine.CheckAsync(Request with { Recipient = "other@example.net" }, CancellationToken.None);

            Assert.Equal("new", before.Reason);
            Assert.Equal("client whitelist", after.Reason);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task PrepareAsync_BadLine_ThrowsAndKeepsListsInForce()
    {
        string dir = Directory.CreateTempSubdirectory("cf-reload-").FullName;
        try
        {
            string clients = Path.Combine(dir, "whitelist_clients");
            File.WriteAllText(clients, "example.com\n");
            var time = new FakeTimeProvider(Start);
            GreylistEngine engine = Engine(time, configure: o => { o.WhitelistClientFiles = [clients]; o.WhitelistRecipientFiles = []; });

            File.WriteAllText(clients, "example.org\nthis is not valid\n");
            InvalidDataException error = await Assert.ThrowsAsync<InvalidDataException>(async () => await engine.PrepareAsync(CancellationToken.None));
            GreylistDecision kept = await engine.CheckAsync(Request, CancellationToken.None);
            File.WriteAllText(clients, "example.org\n");
            Action commit = await engine.PrepareAsync(CancellationToken.None);
            GreylistDecision beforeCommit = await engine.CheckAsync(Request with { Recipient = "x@example.net" }, CancellationToken.None);
            commit();
            GreylistDecision afterCommit = await engine.CheckAsync(Request with { Recipient = "y@example.net" }, CancellationToken.None);

            Assert.Contains("line 2", error.Message);
            Assert.Equal("client whitelist", kept.Reason);
            Assert.Equal("client whitelist", beforeCommit.Reason);
            Assert.Equal("new", afterCommit.Reason);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task CustomText_PercentRAndPercentS_Substituted()
    {
        var time = new FakeTimeProvider(Start);
        GreylistEngine engine = Engine(time, configure: o => o.GreylistText = "Try again in %s seconds (%r)");

        await engine.CheckAsync(Request, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(100));
        GreylistDecision decision = await engine.CheckAsync(Request, CancellationToken.None);

        Assert.Equal("4.2.0 Try again in 200 seconds (example.net)", decision.DeferText);
    }

    [Fact]
    public async Task Expiry_RunsByItselfOnlyInTheNightWindow()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        string path = _fixture.NewSqlitePath();
        var log = new ListLogger<GreylistEngine>();
        await using var store = new SqliteGreylistStore(path);
        GreylistEngine engine = Engine(time, logger: log, store: store);
        await engine.CheckAsync(Request, CancellationToken.None);

        time.Advance(TimeSpan.FromDays(3));    // 12:00: outside 02:00-06:59
        await engine.CheckAsync(Request with { Recipient = "a@example.net" }, CancellationToken.None);
        bool ranAtNoon = log.Entries.Any(e => e.Id.Id == 6207);
        time.Advance(TimeSpan.FromHours(15));  // 03:00 next day
        await engine.CheckAsync(Request with { Recipient = "b@example.net" }, CancellationToken.None);
        for (int i = 0; i < 200 && !log.Entries.Any(e => e.Id.Id == 6207); i++)
        {
            await Task.Delay(10);
        }

        Assert.False(ranAtNoon);
        Assert.Contains(log.Entries, e => e.Id.Id == 6207 && e.Message.Contains("removed 1 records"));
    }

    [Theory]
    [InlineData("Store", "memcached")]
    [InlineData("Privacy", "md5")]
    [InlineData("PrivacyKey", "short")]
    [InlineData("DelaySeconds", "-1")]
    [InlineData("RetryWindowSeconds", "10")]
    public void Options_BadValue_Named(string key, string value)
    {
        var options = new GreylistOptions();
        switch (key)
        {
            case "Store": options.Store = value; break;
            case "Privacy": options.Privacy = value; break;
            case "PrivacyKey": options.Privacy = "hmac-sha256"; options.PrivacyKey = value; break;
            case "DelaySeconds": options.DelaySeconds = int.Parse(value); break;
            case "RetryWindowSeconds": options.RetryWindowSeconds = int.Parse(value); break;
        }

        Assert.Contains(options.Validate(), e => e.StartsWith(key + ":", StringComparison.Ordinal));
        Assert.Empty(new GreylistOptions().Validate());
    }

    private sealed class FakeDns(string? ptr, string? forward) : IDnsResolver
    {
        public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken) => Task.FromResult(DnsAnswer<string>.Empty(DnsStatus.NxDomain));

        public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken)
            => Task.FromResult(forward is null ? DnsAnswer<IPAddress>.Empty(DnsStatus.TempError) : new DnsAnswer<IPAddress>(DnsStatus.Ok, [IPAddress.Parse(forward)]));

        public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken)
            => Task.FromResult(ptr is null ? DnsAnswer<string>.Empty(DnsStatus.TempError) : new DnsAnswer<string>(DnsStatus.Ok, [ptr]));
    }

    private sealed class ListAudit : IAuditSink
    {
        public List<GreylistAuditRecord> Records { get; } = [];

        public void Write(AuditRecord record)
        {
        }

        public void WriteGreylist(GreylistAuditRecord record) => Records.Add(record);
    }
}
