using System.Net;
using ContentFilter.Checks.Dmarc;
using ContentFilter.Checks.Dns;
using ContentFilter.Checks.Spf;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Checks.Tests.Dmarc;

/// <summary>SPF then DMARC end to end over the real resolver and a private dnsmasq.</summary>
public sealed class SpfDmarcDnsmasqTests
{
    [SkippableFact]
    public async Task SpfThenDmarc_RealDns_PassAlignedAndFailWithPolicy()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root");
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync(new DnsmasqRecords()
            .Txt("example.test", "v=spf1 mx -all")
            .Mx("example.test", "mail.example.test", 10)
            .Host("mail.example.test", IPAddress.Parse("192.0.2.25"))
            .Txt("_dmarc.example.test", "v=DMARC1; p=reject; sp=quarantine"));
        var resolver = new DnsClientResolver(new DnsOptions { Servers = { dns.Endpoint }, TimeoutMs = 1000, Retries = 0 }, TimeProvider.System, NullLogger<DnsClientResolver>.Instance);
        var spf = new SpfCheck(new SpfOptions { ReceiverName = "mx.example.net" }, resolver, TimeProvider.System, NullLogger<SpfCheck>.Instance);
        var org = new OrganizationalDomain(PublicSuffixList.Parse(new[] { "test" }));
        var dmarc = new DmarcCheck(new DmarcOptions(), resolver, org, TimeProvider.System, new Random(1), NullLogger<DmarcCheck>.Instance);

        async Task<(string Spf, AuthResult Dmarc)> Run(string clientIp, string from)
        {
            var envelope = new Envelope { MailFrom = "bounce@example.test", Client = new ClientInfo { Address = IPAddress.Parse(clientIp), Helo = "mail.example.test" } };
            MessageContext ctx = await AuthTestMessage.ContextAsync($"From: {from}\nSubject: x\n\nbody\n", envelope);
            ctx.AddResult(await spf.RunAsync(ctx, CancellationToken.None));
            var d = Assert.IsType<AuthResult>(await dmarc.RunAsync(ctx, CancellationToken.None));
            return (ctx.Find<AuthResult>("spf")!.Results[0].Result, d);
        }

        (string spfPass, AuthResult aligned) = await Run("192.0.2.25", "a@news.example.test");
        Assert.Equal("pass", spfPass);
        Assert.Equal("pass", aligned.Results[0].Result);

        (string spfFail, AuthResult failed) = await Run("198.51.100.9", "a@example.test");
        Assert.Equal("fail", spfFail);
        Assert.Equal("fail", failed.Results[0].Result);
        Assert.Equal("reject", failed.RequestedPolicy);

        (_, AuthResult sub) = await Run("198.51.100.9", "a@news.example.test");
        Assert.Equal("quarantine", sub.RequestedPolicy);
    }
}
