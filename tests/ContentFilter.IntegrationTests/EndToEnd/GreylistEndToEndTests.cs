using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.EndToEnd;

/// <summary>
/// Greylisting through the contentfilter process's policy door, asked by a real Postfix (<c>check_policy_service</c>),
/// with the SPF (<c>Greylist:PassSpf</c>) and FCrDNS (<c>Greylist:FcrdnsDomains</c>) exemptions evaluated against a private dnsmasq.
/// </summary>
public sealed class GreylistEndToEndTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task PassSpf_ClientSpfPassesForMailFromDomain_AcceptedAtOnce_OthersGreylisted()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root");
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([
            new("spf-pass.example", "v=spf1 ip4:127.0.0.1 -all"),
            new("spf-fail.example", "v=spf1 ip4:192.0.2.1 -all"),
        ]);
        int policyPort = TestPaths.FreePorts(1)[0];
        string policy = "127.0.0.1:" + policyPort.ToString(CultureInfo.InvariantCulture);
        await using FilterChain chain = await FilterChain.StartAsync(
            configurePostfix: p => p.SmtpdOverrides.Add($"smtpd_recipient_restrictions=reject_unauth_destination,check_policy_service,inet:{policy}"),
            configureFilter: f =>
            {
                string empty = Path.Combine(f.RootDirectory, "whitelist-empty");
                File.WriteAllText(empty, "");
                f.Set("Listeners:policy", new JsonObject { ["Enabled"] = true, ["Endpoint"] = policy, ["Protocol"] = "Policy", ["Direction"] = "Inbound" })
                    .Set("Greylist:PassSpf", true)
                    .Set("Greylist:WhitelistClientFiles", new JsonArray(empty))
                    .Set("Greylist:WhitelistRecipientFiles", new JsonArray(empty))
                    .Set("Dns:Servers", new JsonArray($"{dns.Address}:{dns.Port}"));
            });

        var (client, greeting) = await RawSmtpClient.ConnectAsync(chain.Postfix.SmtpPort);
        await using (client)
        {
            Assert.Equal(220, greeting.Code);
            await client.EhloAsync("mta1.spf-pass.example");

            // SPF passes for 127.0.0.1 and spf-pass.example: no greylisting, the message goes on through the filter.
            SmtpReply accepted = await client.SendMailAsync("alice@spf-pass.example", ["user@dest.test"],
                EndToEndMessages.Plain("Alice <alice@spf-pass.example>", "spf pass", "<spf.1@spf-pass.example>", "hello\r\n"));
            Assert.True(accepted.Code == 250, $"{accepted}\n{chain.Diagnostics()}");

            // SPF fail and no SPF record at all: greylisted with postgrey's text, as without the option.
            foreach (string sender in new[] { "bob@spf-fail.example", "carol@no-spf.example" })
            {
                Assert.Equal(250, (await client.CommandAsync($"MAIL FROM:<{sender}>")).Code);
                SmtpReply rcpt = await client.CommandAsync("RCPT TO:<user@dest.test>");
                Assert.True(rcpt.Code == 450 && rcpt.Text.Contains("4.2.0", StringComparison.Ordinal) && rcpt.Text.Contains("Greylisted", StringComparison.Ordinal),
                    $"{sender}: {rcpt}\n{chain.Diagnostics()}");
                Assert.Equal(250, (await client.CommandAsync("RSET")).Code);
            }
            await client.QuitAsync();
        }

        byte[] delivered = Assert.Single(await chain.Postfix.WaitForDeliveriesAsync(1, Deadline));
        Assert.Equal("<spf.1@spf-pass.example>", EndToEndMessages.Header(delivered, "Message-ID"));
        Assert.Null(EndToEndMessages.Header(delivered, "X-Greylist"));
        string queries = File.ReadAllText(dns.LogPath);
        Assert.Contains("spf-pass.example", queries);
        Assert.Contains("spf-fail.example", queries);
        string logs = chain.Filter.Diagnostics() + (File.Exists(chain.Filter.AuditFile) ? File.ReadAllText(chain.Filter.AuditFile) : "");
        Assert.Contains("spf pass", logs);
    }

    [SkippableFact]
    public async Task FcrdnsDomains_ForwardConfirmedUnderListedDomain_AcceptedAtOnce_OthersGreylisted()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root");
        // Each client connects from its own loopback address, which Postfix reports as client_address.
        IPAddress confirmed = IPAddress.Parse("127.0.0.2"), notConfirmed = IPAddress.Parse("127.0.0.3"), notListed = IPAddress.Parse("127.0.0.4");
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync(new DnsmasqRecords()
            .Ptr(confirmed, "mta1.bigsender.test")
            .Host("mta1.bigsender.test", confirmed)
            // PTR under the listed domain, but the name's A record is another address: anyone can write their own PTR.
            .Ptr(notConfirmed, "mta2.bigsender.test")
            .Host("mta2.bigsender.test", IPAddress.Parse("192.0.2.3"))
            // Forward-confirmed, but under a domain that only ends in the listed one's text.
            .Ptr(notListed, "mta1.notbigsender.test")
            .Host("mta1.notbigsender.test", notListed));
        int policyPort = TestPaths.FreePorts(1)[0];
        string policy = "127.0.0.1:" + policyPort.ToString(CultureInfo.InvariantCulture);
        await using FilterChain chain = await FilterChain.StartAsync(
            configurePostfix: p => p.SmtpdOverrides.Add($"smtpd_recipient_restrictions=reject_unauth_destination,check_policy_service,inet:{policy}"),
            configureFilter: f =>
            {
                string empty = Path.Combine(f.RootDirectory, "whitelist-empty");
                File.WriteAllText(empty, "");
                f.Set("Listeners:policy", new JsonObject { ["Enabled"] = true, ["Endpoint"] = policy, ["Protocol"] = "Policy", ["Direction"] = "Inbound" })
                    .Set("Greylist:FcrdnsDomains", new JsonArray("bigsender.test"))
                    .Set("Greylist:WhitelistClientFiles", new JsonArray(empty))
                    .Set("Greylist:WhitelistRecipientFiles", new JsonArray(empty))
                    .Set("Dns:Servers", new JsonArray($"{dns.Address}:{dns.Port}"));
            });

        // Forward-confirmed under bigsender.test: no greylisting, the message goes on through the filter.
        var (client, greeting) = await RawSmtpClient.ConnectAsync(chain.Postfix.SmtpPort, confirmed);
        await using (client)
        {
            Assert.Equal(220, greeting.Code);
            await client.EhloAsync("mta1.bigsender.test");
            SmtpReply accepted = await client.SendMailAsync("alice@bigsender.test", ["user@dest.test"],
                EndToEndMessages.Plain("Alice <alice@bigsender.test>", "fcrdns pass", "<fcrdns.1@bigsender.test>", "hello\r\n"));
            Assert.True(accepted.Code == 250, $"{accepted}\n{chain.Diagnostics()}");
            await client.QuitAsync();
        }

        // Not forward-confirmed, and not under the listed domain: greylisted with postgrey's text, as without the option.
        foreach (var (address, sender) in new[] { (notConfirmed, "bob@bigsender.test"), (notListed, "carol@notbigsender.test") })
        {
            var (other, hello) = await RawSmtpClient.ConnectAsync(chain.Postfix.SmtpPort, address);
            await using (other)
            {
                Assert.Equal(220, hello.Code);
                await other.EhloAsync("mta.client.test");
                Assert.Equal(250, (await other.CommandAsync($"MAIL FROM:<{sender}>")).Code);
                SmtpReply rcpt = await other.CommandAsync("RCPT TO:<user@dest.test>");
                Assert.True(rcpt.Code == 450 && rcpt.Text.Contains("4.2.0", StringComparison.Ordinal) && rcpt.Text.Contains("Greylisted", StringComparison.Ordinal),
                    $"{address} {sender}: {rcpt}\n{chain.Diagnostics()}");
                await other.QuitAsync();
            }
        }

        byte[] delivered = Assert.Single(await chain.Postfix.WaitForDeliveriesAsync(1, Deadline));
        Assert.Equal("<fcrdns.1@bigsender.test>", EndToEndMessages.Header(delivered, "Message-ID"));
        Assert.Null(EndToEndMessages.Header(delivered, "X-Greylist"));
        // The decisions came from the client addresses' own PTR and A records, not from anything Postfix looked up.
        string queries = File.ReadAllText(dns.LogPath);
        Assert.Contains("2.0.0.127.in-addr.arpa", queries);
        Assert.Contains("3.0.0.127.in-addr.arpa", queries);
        Assert.Contains("4.0.0.127.in-addr.arpa", queries);
        Assert.Contains("mta2.bigsender.test", queries);
        string logs = chain.Filter.Diagnostics() + (File.Exists(chain.Filter.AuditFile) ? File.ReadAllText(chain.Filter.AuditFile) : "");
        Assert.Contains("fcrdns whitelist", logs);
        Assert.Contains("client_address=127.0.0.3", logs);
    }

    [SkippableFact]
    public async Task PassSpf_MilterGreylistAtRcpt_ClientAndHeloFromPostfixMacros_SpfPassAcceptedOthersDeferred()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root");
        PostfixInstance.SkipUnlessAvailable();
        // include:%{h}: the pass needs the HELO name from the milter's HELO step, and the included record's ip4 the
        // client address from its CONNECT step.
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([
            new("spf-pass.example", "v=spf1 include:%{h} -all"),
            new("mta0.spf-pass.example", "v=spf1 ip4:127.0.0.1 -all"),
            new("mta1.spf-pass.example", "v=spf1 ip4:192.0.2.1 -all"),
        ]);
        await using MilterDeployment deployment = await MilterDeployment.StartPostfixAsync();
        PostfixInstance postfix = deployment.Postfix;
        ContentFilterProcess filter = deployment.Filter;
        string empty = Path.Combine(filter.RootDirectory, "whitelist-empty");
        File.WriteAllText(empty, "");
        filter
            .Set("Milter:GreylistAtRcpt", true)
            .Set("Greylist:PassSpf", true)
            .Set("Greylist:WhitelistClientFiles", new JsonArray(empty))
            .Set("Greylist:WhitelistRecipientFiles", new JsonArray(empty))
            .Set("Dns:Servers", new JsonArray($"{dns.Address}:{dns.Port}"));
        await filter.StartAsync();

        foreach (var (helo, expected) in new[] { ("mta0.spf-pass.example", 250), ("mta1.spf-pass.example", 450) })
        {
            var (client, greeting) = await RawSmtpClient.ConnectAsync(postfix.SmtpPort);
            await using (client)
            {
                Assert.Equal(220, greeting.Code);
                await client.EhloAsync(helo);
                Assert.Equal(250, (await client.CommandAsync("MAIL FROM:<alice@spf-pass.example>")).Code);
                SmtpReply rcpt = await client.CommandAsync("RCPT TO:<user@dest.test>");
                Assert.True(rcpt.Code == expected, $"HELO {helo}: {rcpt}\n{postfix.Diagnostics()}\n{filter.Diagnostics()}");
                if (expected == 450)
                {
                    Assert.Contains("Greylisted", rcpt.Text);
                }
                await client.QuitAsync();
            }
        }
        Assert.Contains("spf pass", filter.Diagnostics() + (File.Exists(filter.AuditFile) ? File.ReadAllText(filter.AuditFile) : ""));
    }
}
