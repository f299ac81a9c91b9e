using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ContentFilter.Checks.Dns;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Checks.Tests.Dns;

public sealed class DnsClientResolverTests
{
    private static DnsClientResolver Resolver(string server, TimeProvider? time = null, int timeoutMs = 1000, int retries = 0) =>
        new(new DnsOptions { Servers = { server }, TimeoutMs = timeoutMs, Retries = retries }, time ?? TimeProvider.System, NullLogger<DnsClientResolver>.Instance);

    [SkippableFact]
    public async Task Queries_RealDnsmasq_StatusesToldApart()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root");
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync(new DnsmasqRecords()
            .Zone("test")
            .Txt("example.test", "v=spf1 -all")
            .Txt("long.example.test", new string('a', 200) + new string('b', 200))
            .Host("mail.example.test", IPAddress.Parse("192.0.2.5"), IPAddress.Parse("2001:db8::5"))
            .Mx("example.test", "mail.example.test", 10)
            .Ptr(IPAddress.Parse("192.0.2.5"), "mail.example.test"));
        DnsClientResolver r = Resolver(dns.Endpoint);
        CancellationToken ct = CancellationToken.None;

        Assert.Equal(new[] { "v=spf1 -all" }, (await r.TxtAsync("example.test", ct)).Records);
        Assert.Equal(new string('a', 200) + new string('b', 200), Assert.Single((await r.TxtAsync("long.example.test", ct)).Records));
        Assert.Equal(DnsStatus.NoData, (await r.AddressesAsync("example.test", AddressFamily.InterNetwork, ct)).Status);
        Assert.Equal(DnsStatus.NxDomain, (await r.TxtAsync("nope.example.test", ct)).Status);
        Assert.Equal(DnsStatus.TempError, (await r.TxtAsync("outside.invalid", ct)).Status); // REFUSED
        Assert.Equal(new[] { IPAddress.Parse("192.0.2.5") }, (await r.AddressesAsync("mail.example.test", AddressFamily.InterNetwork, ct)).Records);
        Assert.Equal(2, (await r.AddressesAsync("mail.example.test", ct)).Records.Count);
        Assert.Equal(new MxRecord(10, "mail.example.test"), Assert.Single((await r.MxAsync("example.test", ct)).Records));
        Assert.Equal("mail.example.test", Assert.Single((await r.PtrAsync(IPAddress.Parse("192.0.2.5"), ct)).Records));
    }

    [SkippableFact]
    public async Task Cache_AnswerKeptForTtlThenAskedAgain()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root");
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        DnsClientResolver r;
        await using (DnsmasqServer dns = await DnsmasqServer.StartAsync(new DnsmasqRecords().Ttl(60).Txt("cached.example.test", "hello")))
        {
            r = Resolver(dns.Endpoint, time, timeoutMs: 300);
            Assert.Equal(DnsStatus.Ok, (await r.TxtAsync("cached.example.test", CancellationToken.None)).Status);
            Assert.Equal(1, r.CachedAnswers);
        }

        // Server gone: within the TTL (60 s) the cache answers; past it the resolver asks and times out.
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("hello", Assert.Single((await r.TxtAsync("CACHED.example.test.", CancellationToken.None)).Records));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(DnsStatus.TempError, (await r.TxtAsync("cached.example.test", CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Query_ServerSilent_TempErrorWithinTimeout()
    {
        using var silent = new ScriptedUdpDnsServer(rcode: null);
        DnsClientResolver r = Resolver(silent.Endpoint, timeoutMs: 300, retries: 1);
        var sw = Stopwatch.StartNew();

        DnsAnswer<string> answer = await r.TxtAsync("example.test", CancellationToken.None);

        Assert.Equal(DnsStatus.TempError, answer.Status);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.True(Volatile.Read(ref silent.Queries) >= 1);
    }

    [Fact]
    public async Task Query_ServFail_TempErrorAndNotCached()
    {
        using var servfail = new ScriptedUdpDnsServer(rcode: 2);
        DnsClientResolver r = Resolver(servfail.Endpoint);

        Assert.Equal(DnsStatus.TempError, (await r.TxtAsync("example.test", CancellationToken.None)).Status);
        Assert.Equal(DnsStatus.TempError, (await r.TxtAsync("example.test", CancellationToken.None)).Status);
        Assert.Equal(0, r.CachedAnswers);
        Assert.True(Volatile.Read(ref servfail.Queries) >= 2);
    }

    [Fact]
    public async Task Query_InvalidName_NxDomainWithoutAsking()
    {
        using var silent = new ScriptedUdpDnsServer(rcode: null);
        DnsClientResolver r = Resolver(silent.Endpoint);

        Assert.Equal(DnsStatus.NxDomain, (await r.TxtAsync("a..example.test", CancellationToken.None)).Status);
        Assert.Equal(DnsStatus.NxDomain, (await r.TxtAsync(new string('x', 64) + ".test", CancellationToken.None)).Status);
        Assert.Equal(0, silent.Queries);
    }

    [Theory]
    [InlineData("127.0.0.1:5353", "127.0.0.1:5353")]
    [InlineData("127.0.0.1", "127.0.0.1:53")]
    [InlineData("[::1]:5300", "[::1]:5300")]
    [InlineData("::1", "[::1]:53")]
    public void ParseServer_Forms_Parsed(string input, string expected)
    {
        Assert.Equal(expected, DnsClientResolver.ParseServer(input).ToString());
    }

    [Theory]
    [InlineData("localhost:53")]
    [InlineData("127.0.0.1:x")]
    public void ParseServer_Garbage_Throws(string input)
    {
        Assert.Throws<FormatException>(() => DnsClientResolver.ParseServer(input));
    }

    [Fact]
    public void ReadResolvConf_NameserverLines_InOrder()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(path, new[] { "# comment", "search example.org", "nameserver 10.0.0.1", "nameserver fe80::1%eth0", "options ndots:2" });
            Assert.Equal(new[] { "10.0.0.1:53", "[fe80::1]:53" }, DnsClientResolver.ReadResolvConf(path).Select(e => e.ToString()));
            Assert.Equal(new[] { "127.0.0.1:53" }, DnsClientResolver.ReadResolvConf("/nonexistent/resolv.conf").Select(e => e.ToString()));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ArpaName_V4AndV6_Reversed()
    {
        Assert.Equal("4.3.2.1.in-addr.arpa", DnsClientResolver.ArpaName(IPAddress.Parse("1.2.3.4")));
        Assert.Equal("4.3.2.1.in-addr.arpa", DnsClientResolver.ArpaName(IPAddress.Parse("::ffff:1.2.3.4")));
        Assert.Equal("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", DnsClientResolver.ArpaName(IPAddress.Parse("2001:db8::1")));
    }

    [Fact]
    public void Cache_Full_DropsLeastRecentlyUsed()
    {
        var time = new FakeTimeProvider();
        var cache = new DnsAnswerCache(2, time);
        cache.Set("a", 16, "A", TimeSpan.FromMinutes(1));
        cache.Set("b", 16, "B", TimeSpan.FromMinutes(1));
        Assert.True(cache.TryGet("a", 16, out _));
        cache.Set("c", 16, "C", TimeSpan.FromMinutes(1));

        Assert.True(cache.TryGet("a", 16, out _));
        Assert.False(cache.TryGet("b", 16, out _));
        Assert.True(cache.TryGet("c", 16, out _));
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void Options_OutOfRange_Rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DnsOptions { TimeoutMs = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new DnsOptions { CacheSize = -1 }.Validate());
        Assert.Throws<FormatException>(() => new DnsOptions { Servers = { "dns.example" } }.Validate());
    }
}
