using System.Net;
using System.Net.Sockets;
using ContentFilter.Checks.Dns;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;


namespace ContentFilter.Checks.Tests.Dns;

/// <summary>The kit's <see cref="DnsmasqServer"/> serves PTR and A/AAAA records as well as TXT, as the production resolver reads them.</summary>
public sealed class KitDnsmasqRecordsTests
{
    [SkippableFact]
    public async Task KitDnsmasq_PtrHostAndTxtRecords_AnsweredThroughDnsClientResolver()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root");
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync(new DnsmasqRecords()
            .Ptr(IPAddress.Parse("127.0.0.2"), "mta1.bigsender.test")
            .Host("mta1.bigsender.test", IPAddress.Parse("127.0.0.2"))
            .Ptr(IPAddress.Parse("127.0.0.3"), "mta2.bigsender.test.")
            .Host("mta2.bigsender.test", IPAddress.Parse("192.0.2.99"))
            .Ptr(IPAddress.Parse("2001:db8::25"), "v6.example.test")
            .Host("dual.example.test", IPAddress.Parse("192.0.2.7"), IPAddress.Parse("2001:db8::7"))
            .Txt("example.test", "v=spf1 -all"));
        var resolver = new DnsClientResolver(
            new DnsOptions { Servers = { dns.Endpoint }, TimeoutMs = 1000, Retries = 0, CacheSize = 0 },
            TimeProvider.System, NullLogger<DnsClientResolver>.Instance);
        CancellationToken ct = CancellationToken.None;

        // PTR of loopback client addresses, as the FCrDNS greylist pass asks them.
        Assert.Equal(["mta1.bigsender.test"], (await resolver.PtrAsync(IPAddress.Parse("127.0.0.2"), ct)).Records);
        Assert.Equal(["mta2.bigsender.test"], (await resolver.PtrAsync(IPAddress.Parse("127.0.0.3"), ct)).Records);
        Assert.Equal(["v6.example.test"], (await resolver.PtrAsync(IPAddress.Parse("2001:db8::25"), ct)).Records);
        Assert.Equal(DnsStatus.NxDomain, (await resolver.PtrAsync(IPAddress.Parse("127.0.0.9"), ct)).Status);

        // A and AAAA: a name's own addresses only; a PTR alone publishes no forward record.
        Assert.Equal([IPAddress.Parse("127.0.0.2")], (await resolver.AddressesAsync("mta1.bigsender.test", ct)).Records);
        Assert.Equal([IPAddress.Parse("192.0.2.99")], (await resolver.AddressesAsync("mta2.bigsender.test", ct)).Records);
        Assert.Equal(DnsStatus.NxDomain, (await resolver.AddressesAsync("v6.example.test", ct)).Status);
        Assert.Equal([IPAddress.Parse("192.0.2.7")], (await resolver.AddressesAsync("dual.example.test", AddressFamily.InterNetwork, ct)).Records);
        Assert.Equal([IPAddress.Parse("2001:db8::7")], (await resolver.AddressesAsync("dual.example.test", AddressFamily.InterNetworkV6, ct)).Records);
        Assert.Equal(DnsStatus.NoData, (await resolver.AddressesAsync("mta1.bigsender.test", AddressFamily.InterNetworkV6, ct)).Status);

        // TXT as before; an unknown name is NXDOMAIN, never forwarded.
        Assert.Equal(["v=spf1 -all"], (await resolver.TxtAsync("example.test", ct)).Records);
        Assert.Equal(DnsStatus.NxDomain, (await resolver.TxtAsync("unknown.example.test", ct)).Status);
    }
}
