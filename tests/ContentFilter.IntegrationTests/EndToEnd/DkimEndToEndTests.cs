using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using ContentFilter.Checks.Dkim;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Messages;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.EndToEnd;

/// <summary>
/// DKIM end to end: mail submitted to the filter's originating listener is signed, reinjected into Postfix and
/// delivered, and Debian's independent verifier (python3-dkim <c>dkimverify</c>) accepts the delivered bytes with the
/// key published on a private dnsmasq; a message signed elsewhere passes inbound with its bytes untouched.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DkimEndToEndTests
{
    private const string DkimVerify = "/usr/bin/dkimverify";
    private const string DkimSign = "/usr/bin/dkimsign";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static async Task<CommandResult> DkimverifyAsync(DnsmasqServer dns, byte[] message)
    {
        ProcessStartInfo psi = dns.WrapWithResolvConf(DkimVerify);
        return await ExternalCommand.RunAsync(psi.FileName, psi.ArgumentList, TimeSpan.FromSeconds(60), standardInput: message);
    }

    [SkippableFact]
    public async Task Originating_SignedByFilterAndDeliveredByPostfix_DkimverifyAcceptsAndRejectsAlteredCopy()
    {
        Skip.IfNot(DnsmasqServer.CanStart && DnsmasqServer.CanWrapResolvConf, "needs dnsmasq, unshare and root");
        Skip.IfNot(File.Exists(DkimVerify), DkimVerify + " is not installed");
        string record;
        string keyDir = Directory.CreateTempSubdirectory("cf-e2e-dkim-").FullName;
        try
        {
            File.SetUnixFileMode(keyDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string keyFile = Path.Combine(keyDir, "cf.private");
            using (DkimPrivateKey key = DkimPrivateKey.Generate(DkimAlgorithm.RsaSha256, 2048))
            {
                File.WriteAllText(keyFile, key.ExportPem());
                File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                record = key.DnsRecord();
            }
            await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("cf._domainkey.example.com", record)]);
            await using FilterChain chain = await FilterChain.StartAsync(configureFilter: f => f
                .Set("Dkim:Sign:Enabled", true)
                .Set("Dkim:Sign:Domains", new JsonArray(new JsonObject { ["Domain"] = "example.com", ["Selector"] = "cf", ["KeyFile"] = keyFile })));

            byte[] sent = EndToEndMessages.Plain("Alice <alice@example.com>", "signed on the way out", "<out.1@example.com>",
                "Hello,\r\n\r\nthe figures  are attached   tomorrow.\r\n");
            var (client, greeting) = await RawSmtpClient.ConnectAsync(chain.Filter.OriginatingPort);
            await using (client)
            {
                Assert.Equal(220, greeting.Code);
                await client.EhloAsync("submission.test");
                SmtpReply reply = await client.SendMailAsync("alice@example.com", ["user@dest.test"], sent);
                Assert.True(reply.Code == 250, $"{reply}\n{chain.Diagnostics()}");
                await client.QuitAsync();
            }

            IReadOnlyList<byte[]> delivered = await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);
            byte[] wire = EndToEndMessages.Crlf(Assert.Single(delivered));
            string? signature = EndToEndMessages.Header(wire, "DKIM-Signature");
            Assert.True(signature is not null, "no DKIM-Signature:\n" + Encoding.UTF8.GetString(wire) + "\n" + chain.Diagnostics());
            Assert.Contains("d=example.com", signature);
            Assert.Contains("s=cf", signature);

            // The audit names the signature added, as amavis does: dkim_new=selector:domain in the line, a list in the record.
            JsonObject audit = Assert.Single(await chain.Filter.WaitForAuditRecordsAsync(1, Deadline));
            Assert.Equal(["cf:example.com"], audit["DkimNew"]!.AsArray().Select(n => n!.GetValue<string>()));
            string auditJson;
            using (var reader = new StreamReader(new FileStream(chain.Filter.AuditFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete)))
            {
                auditJson = reader.ReadLine()!;
            }
            string auditLine = JsonNode.Parse(auditJson)!["AuditLine"]!.GetValue<string>();
            Assert.Contains(", dkim_new=cf:example.com, ", auditLine);

            CommandResult ok = await DkimverifyAsync(dns, wire);
            Assert.True(ok.ExitCode == 0 && (ok.StandardOutput + ok.StandardError).Contains("signature ok", StringComparison.Ordinal), ok.ToString());
            Assert.Contains("cf._domainkey.example.com", File.ReadAllText(dns.LogPath));

            byte[] altered = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(wire).Replace("tomorrow", "today", StringComparison.Ordinal));
            CommandResult bad = await DkimverifyAsync(dns, altered);
            Assert.True(bad.ExitCode != 0, "dkimverify accepted an altered body: " + bad);
        }
        finally
        {
            Directory.Delete(keyDir, recursive: true);
        }
    }

    [SkippableFact]
    public async Task PreSignedInbound_VerifiedAndDelivered_BytesBelowAddedHeadersIdentical()
    {
        Skip.IfNot(DnsmasqServer.CanStart, "needs dnsmasq and root");
        SampleMessage message = SampleMessage.Get("dkim-signed.eml");
        // No key published for s=test: the verifier gets NXDOMAIN from our private DNS, nothing leaves the machine.
        await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("unrelated._domainkey.example.net", "v=DKIM1; p=")]);
        await using FilterChain chain = await FilterChain.StartAsync(configureFilter: f => f
            .Set("Dkim:Verify", true)
            .Set("Dns:Servers", new JsonArray($"{dns.Address}:{dns.Port}")));

        await chain.SubmitAsync(message);

        IReadOnlyList<byte[]> delivered = await chain.Postfix.WaitForDeliveriesAsync(1, Deadline);
        await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
        byte[] got = Assert.Single(delivered);
        DeliveryComparison c = DeliveredMessage.Compare(message.Bytes(), got, [.. DeliveredMessage.PostfixTraceFields, "Authentication-Results"]);
        Assert.True(c.Intact, c.Problem + "\n" + chain.Diagnostics());
        // The verifier really ran: it added its one Authentication-Results with a dkim result for the signature.
        Assert.Single(c.AddedFields, f => f.StartsWith("Authentication-Results:", StringComparison.Ordinal));
        string results = EndToEndMessages.Header(got, "Authentication-Results") ?? "";
        Assert.Contains("dkim=", results);
        Assert.Contains("test._domainkey.example.org", File.ReadAllText(dns.LogPath));
    }

    [SkippableFact]
    public async Task PreSignedByPythonDkim_RelayedInbound_StillVerifiesAfterDeliveryAndOurAuthenticationResultsSaysPass()
    {
        Skip.IfNot(DnsmasqServer.CanStart && DnsmasqServer.CanWrapResolvConf, "needs dnsmasq, unshare and root");
        Skip.IfNot(File.Exists(DkimVerify) && File.Exists(DkimSign), "python3-dkim (dkimsign, dkimverify) is not installed");
        string keyDir = Directory.CreateTempSubdirectory("cf-e2e-presigned-").FullName;
        try
        {
            // Signed elsewhere, before it reaches us: python3-dkim with simple/simple, so any byte change breaks it.
            string keyFile = Path.Combine(keyDir, "pre.private");
            string record;
            using (DkimPrivateKey key = DkimPrivateKey.Generate(DkimAlgorithm.RsaSha256, 2048))
            {
                File.WriteAllText(keyFile, key.ExportPem());
                record = key.DnsRecord();
            }
            byte[] unsigned = EndToEndMessages.Plain("Signer <signer@example.org>", "signed elsewhere", "<pre.1@example.org>",
                "Hello,\r\n\r\nsigned  before it   left,\r\n.and a line starting with a dot.\r\n");
            CommandResult signing = await ExternalCommand.RunAsync(DkimSign, ["--hcanon", "simple", "--bcanon", "simple", "pre", "example.org", keyFile], TimeSpan.FromSeconds(60), standardInput: unsigned);
            Assert.True(signing.ExitCode == 0, signing.ToString());
            byte[] signedMessage = Encoding.ASCII.GetBytes(signing.StandardOutput);
            Assert.StartsWith("DKIM-Signature:", signing.StandardOutput);

            await using DnsmasqServer dns = await DnsmasqServer.StartAsync([new("pre._domainkey.example.org", record)]);
            CommandResult before = await DkimverifyAsync(dns, signedMessage);
            Assert.True(before.ExitCode == 0, "the signed message does not verify before sending: " + before);

            await using FilterChain chain = await FilterChain.StartAsync(configureFilter: f => f
                .Set("Dkim:Verify", true)
                .Set("Dns:Servers", new JsonArray($"{dns.Address}:{dns.Port}")));
            await chain.SubmitAsync("signer@example.org", "user@dest.test", signedMessage);

            byte[] got = Assert.Single(await chain.Postfix.WaitForDeliveriesAsync(1, Deadline));
            await chain.Postfix.WaitForEmptyQueueAsync(Deadline);
            DeliveryComparison c = DeliveredMessage.Compare(signedMessage, got, [.. DeliveredMessage.PostfixTraceFields, "Authentication-Results"]);
            Assert.True(c.Intact, c.Problem + "\n" + chain.Diagnostics());

            string results = EndToEndMessages.Header(got, "Authentication-Results") ?? "";
            Assert.True(results.StartsWith("filter.test;", StringComparison.Ordinal) && results.Contains("dkim=pass", StringComparison.Ordinal) && results.Contains("header.d=example.org", StringComparison.Ordinal),
                "our Authentication-Results: " + results + "\n" + chain.Diagnostics());

            CommandResult after = await DkimverifyAsync(dns, EndToEndMessages.Crlf(got));
            Assert.True(after.ExitCode == 0 && (after.StandardOutput + after.StandardError).Contains("signature ok", StringComparison.Ordinal), after.ToString());
        }
        finally
        {
            Directory.Delete(keyDir, recursive: true);
        }
    }
}
