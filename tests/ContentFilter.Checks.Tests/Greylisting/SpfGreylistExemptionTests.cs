using System.Net;
using ContentFilter.Checks.Dns;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Checks.Spf;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Checks.Tests.Greylisting;

public class SpfGreylistExemptionTests
{
    private static readonly GreylistRequest Request = new(IPAddress.Parse("192.0.2.10"), "unknown", "alice@example.com", "bob@example.net", "inst1", "mta1.example.com");

    private static SpfGreylistExemption Exemption(IDnsResolver dns, TimeProvider? time = null) =>
        new(dns, new SpfOptions { ReceiverName = "mx.test", TimeoutMs = 2000 }, time ?? TimeProvider.System);

    [Theory]
    [InlineData("v=spf1 ip4:192.0.2.0/24 -all", true)]
    [InlineData("v=spf1 ip4:198.51.100.0/24 -all", false)]
    [InlineData("v=spf1 ip4:198.51.100.0/24 ~all", false)]
    [InlineData("v=spf1 ?all", false)]
    [InlineData("v=spf1 include:nothing.example -all", false)]
    public async Task IsExempt_OnlySpfPassForMailFromDomain_Exempts(string record, bool exempt)
    {
        var dns = new DictionaryDnsResolver().AddTxt("example.com", record);

        Assert.Equal(exempt, await Exemption(dns).IsExemptAsync(Request, CancellationToken.None));
        Assert.Contains("example.com", dns.Queries);
    }

    [Fact]
    public async Task IsExempt_NoSpfRecord_NotExempt()
    {
        var dns = new DictionaryDnsResolver();

        Assert.False(await Exemption(dns).IsExemptAsync(Request, CancellationToken.None));
    }

    [Fact]
    public async Task IsExempt_NullSender_NotExemptAndNoDnsQuery()
    {
        var dns = new DictionaryDnsResolver().AddTxt("mta1.example.com", "v=spf1 +all");

        Assert.False(await Exemption(dns).IsExemptAsync(Request with { Sender = "" }, CancellationToken.None));
        Assert.Empty(dns.Queries);
    }

    [Fact]
    public async Task IsExempt_DnsTempError_NotExempt()
    {
        var dns = new DictionaryDnsResolver().AddTxt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
        dns.Failing.Add("example.com");

        Assert.False(await Exemption(dns).IsExemptAsync(Request, CancellationToken.None));
    }

    [Fact]
    public async Task IsExempt_HeloAndClientAddressOfTheRequestAreUsed()
    {
        // %{h} expands to the HELO name; its A record must hold the client address.
        var dns = new DictionaryDnsResolver()
            .AddTxt("example.com", "v=spf1 a:%{h} -all")
            .AddAddress("mta1.example.com", IPAddress.Parse("192.0.2.10"));

        Assert.True(await Exemption(dns).IsExemptAsync(Request, CancellationToken.None));
        Assert.False(await Exemption(dns).IsExemptAsync(Request with { Helo = "other.example.com" }, CancellationToken.None));
        Assert.False(await Exemption(dns).IsExemptAsync(Request with { ClientAddress = IPAddress.Parse("192.0.2.11") }, CancellationToken.None));
    }

    [Fact]
    public async Task IsExempt_ResolverHangsPastSpfTimeout_NotExempt()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        var dns = new HangingDns();
        Task<bool> pending = Exemption(dns, time).IsExemptAsync(Request, CancellationToken.None);
        await dns.Asked.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(pending.IsCompleted);

        time.Advance(TimeSpan.FromMilliseconds(2000));

        Assert.False(await pending.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task IsExempt_ExplicitTimeoutShorterThanSpfTimeout_Wins()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
        var dns = new HangingDns();
        var exemption = new SpfGreylistExemption(dns, new SpfOptions { TimeoutMs = 15_000 }, time, TimeSpan.FromSeconds(5));
        Task<bool> pending = exemption.IsExemptAsync(Request, CancellationToken.None);
        await dns.Asked.Task.WaitAsync(TimeSpan.FromSeconds(10));

        time.Advance(TimeSpan.FromSeconds(5));

        Assert.False(await pending.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private sealed class HangingDns : IDnsResolver
    {
        public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken)
        {
            Asked.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
