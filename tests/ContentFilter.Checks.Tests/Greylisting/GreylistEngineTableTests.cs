using System.Net;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Pipeline.Greylisting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>postgrey's semantics as a table of steps on a fake clock, run against every store (SQLite file, real Redis).</summary>
public class GreylistEngineTableTests : IClassFixture<GreylistStoreFixture>
{
    private const long Day = 24 * 3600;
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private readonly GreylistStoreFixture _fixture;

    public GreylistEngineTableTests(GreylistStoreFixture fixture)
    {
        _fixture = fixture;
    }

    /// <summary>One request at <paramref name="At"/> seconds after the start and what it must get.</summary>
    /// <param name="Expect"><c>defer:REASON</c>, <c>pass:REASON</c>, or <c>pass:REASON+header</c> (an X-Greylist header is added).</param>
    public sealed record Step(long At, string Client, string Sender, string Recipient, string Expect, string? Instance = null, string ClientName = "mail.example.com");

    private const string Ip = "192.0.2.10";
    private const string From = "alice@example.com";
    private const string To = "bob@example.net";

    public static readonly Dictionary<string, (Action<GreylistOptions> Options, Step[] Steps)> Cases = new()
    {
        ["first try"] = (_ => { }, [new(0, Ip, From, To, "defer:new")]),
        ["early retry"] = (_ => { }, [
            new(0, Ip, From, To, "defer:new"),
            new(60, Ip, From, To, "defer:early-retry (240s missing)"),
            new(299, Ip, From, To, "defer:early-retry (1s missing)")]),
        ["retry after delay passes with header once"] = (_ => { }, [
            new(0, Ip, From, To, "defer:new"),
            new(300, Ip, From, To, "pass:triplet found+header"),
            new(400, Ip, From, To, "pass:triplet found"),
            new(20 * Day, Ip, From, To, "pass:triplet found")]),
        ["retry after the retry window starts again"] = (_ => { }, [
            new(0, Ip, From, To, "defer:new"),
            new(2 * Day + 1, Ip, From, To, "defer:new"),
            new(2 * Day + 301, Ip, From, To, "pass:triplet found+header")]),
        ["unpassed record with first beyond the window resets first"] = (_ => { }, [
            new(0, Ip, From, To, "defer:new"),
            new(200, Ip, From, To, "defer:early-retry (100s missing)"),
            new(2 * Day + 100, Ip, From, To, "defer:early-retry (300s missing)"),
            new(2 * Day + 400, Ip, From, To, "pass:triplet found+header")]),
        ["retry long after the delay but within the window passes"] = (_ => { }, [
            new(0, Ip, From, To, "defer:new"),
            new(2 * Day - 1, Ip, From, To, "pass:triplet found+header")]),
        ["passed triplet expires after max age"] = (_ => { }, [
            new(0, Ip, From, To, "defer:new"),
            new(300, Ip, From, To, "pass:triplet found+header"),
            new(300 + 35 * Day, Ip, From, To, "pass:triplet found"),
            new(300 + 70 * Day + 1, Ip, From, To, "defer:new")]),
        ["/24 lumping"] = (_ => { }, [
            new(0, "192.0.2.10", From, To, "defer:new"),
            new(300, "192.0.2.77", From, To, "pass:triplet found+header"),
            new(301, "192.0.3.10", From, To, "defer:new")]),
        ["lookup by host keeps the full address"] = (o => o.LookupByHost = true, [
            new(0, "192.0.2.10", From, To, "defer:new"),
            new(300, "192.0.2.77", From, To, "defer:new"),
            new(301, "192.0.2.10", From, To, "pass:triplet found+header")]),
        ["/64 lumping"] = (_ => { }, [
            new(0, "2001:db8:1:2::1", From, To, "defer:new"),
            new(300, "2001:db8:1:2:ffff::9", From, To, "pass:triplet found+header"),
            new(301, "2001:db8:1:3::1", From, To, "defer:new")]),
        ["IPv4-mapped IPv6 is the IPv4 network"] = (_ => { }, [
            new(0, "::ffff:192.0.2.10", From, To, "defer:new"),
            new(300, "192.0.2.11", From, To, "pass:triplet found+header")]),
        ["sender +extension cut"] = (_ => { }, [
            new(0, Ip, "list-bounces+bob=example.net@lists.example.org", To, "defer:new"),
            new(300, Ip, "list-bounces+carol=example.net@lists.example.org", To, "pass:triplet found+header")]),
        ["sender BATV prvs tag dropped"] = (_ => { }, [
            new(0, Ip, "prvs=0123456789=alice@example.com", To, "defer:new"),
            new(300, Ip, "prvs=abcdefghij=alice@example.com", To, "pass:triplet found+header"),
            new(301, Ip, "alice@example.com", To, "pass:triplet found")]),
        ["sender BATV old order prvs=user=tag"] = (_ => { }, [
            new(0, Ip, "prvs=alice=0123456789@example.com", To, "defer:new"),
            new(300, Ip, "alice@example.com", To, "pass:triplet found+header")]),
        ["sender VERP digit runs"] = (_ => { }, [
            new(0, Ip, "bounce-12345-67@example.com", To, "defer:new"),
            new(300, Ip, "bounce-999-1@example.com", To, "pass:triplet found+header"),
            new(301, Ip, "bounce-abc12@example.com", To, "defer:new")]),
        ["null sender kept"] = (_ => { }, [
            new(0, Ip, "", To, "defer:new"),
            new(300, Ip, "", To, "pass:triplet found+header"),
            new(301, Ip, "mailer-daemon@example.com", To, "defer:new")]),
        ["key is lower-case"] = (_ => { }, [
            new(0, Ip, "Alice@Example.COM", "Bob@EXAMPLE.net", "defer:new"),
            new(300, Ip, From, To, "pass:triplet found+header")]),
        ["other recipient is another triplet"] = (_ => { }, [
            new(0, Ip, From, To, "defer:new"),
            new(300, Ip, From, "carol@example.net", "defer:new")]),
        ["header once per instance"] = (_ => { }, [
            new(0, Ip, From, To, "defer:new", "i1"),
            new(0, Ip, From, "carol@example.net", "defer:new", "i1"),
            new(300, Ip, From, To, "pass:triplet found+header", "i2"),
            new(300, Ip, From, "carol@example.net", "pass:triplet found", "i2")]),
        ["no header when turned off"] = (o => o.AddHeader = false, [
            new(0, Ip, From, To, "defer:new"),
            new(300, Ip, From, To, "pass:triplet found")]),
        ["client whitelist by name"] = (o => Whitelist(o, ["example.com"], []), [
            new(0, Ip, From, To, "pass:client whitelist", ClientName: "mx1.mail.example.com")]),
        ["client whitelist by address"] = (o => Whitelist(o, ["192.0.2.10"], []), [
            new(0, "192.0.2.10", From, To, "pass:client whitelist", ClientName: "unknown"),
            new(0, "192.0.2.11", From, To, "defer:new", ClientName: "unknown")]),
        ["client whitelist by CIDR"] = (o => Whitelist(o, ["192.0.2.0/25"], []), [
            new(0, "192.0.2.127", From, To, "pass:client whitelist"),
            new(0, "192.0.2.128", From, To, "defer:new")]),
        ["client whitelist a.b.c is a /24"] = (o => Whitelist(o, ["192.0.2"], []), [
            new(0, "192.0.2.200", From, To, "pass:client whitelist"),
            new(0, "192.0.3.1", From, To, "defer:new")]),
        ["client whitelist IPv6 network"] = (o => Whitelist(o, ["2001:db8::/32"], []), [
            new(0, "2001:db8:ffff::1", From, To, "pass:client whitelist"),
            new(0, "2001:db9::1", From, To, "defer:new")]),
        ["client whitelist regex on name"] = (o => Whitelist(o, [@"/^mx[0-9]+\.example\.org$/"], []), [
            new(0, Ip, From, To, "pass:client whitelist", ClientName: "MX12.example.org"),
            new(0, Ip, From, To, "defer:new", ClientName: "mxa.example.org")]),
        ["recipient whitelist user@"] = (o => Whitelist(o, [], ["postmaster@"]), [
            new(0, Ip, From, "postmaster@example.net", "pass:recipient whitelist"),
            new(0, Ip, From, "Postmaster+x@other.example", "pass:recipient whitelist"),
            new(0, Ip, From, "postmasterx@example.net", "defer:new")]),
        ["recipient whitelist user@domain"] = (o => Whitelist(o, [], ["abuse@example.net"]), [
            new(0, Ip, From, "abuse+tag@example.net", "pass:recipient whitelist"),
            new(0, Ip, From, "abuse@example.org", "defer:new")]),
        ["recipient whitelist domain with subdomains"] = (o => Whitelist(o, [], ["example.net"]), [
            new(0, Ip, From, "x@sub.example.net", "pass:recipient whitelist"),
            new(0, Ip, From, "x@notexample.net", "defer:new")]),
        ["recipient whitelist regex"] = (o => Whitelist(o, [], [@"/^list-.*@example\.net$/"]), [
            new(0, Ip, From, "list-users@example.net", "pass:recipient whitelist"),
            new(0, Ip, From, "users@example.net", "defer:new")]),
        ["auto-whitelist after five passes, counted hourly"] = (_ => { }, AutoWhitelistSteps()),
        ["auto-whitelist off"] = (o => o.AutoWhitelistClients = 0, AutoWhitelistSteps(expectAwl: false)),
        ["privacy sha256 keeps semantics"] = (o => o.Privacy = "sha256", [
            new(0, Ip, From, To, "defer:new"),
            new(300, "192.0.2.99", From, To, "pass:triplet found+header")]),
        ["privacy hmac keeps semantics"] = (o => { o.Privacy = "hmac-sha256"; o.PrivacyKey = "0123456789abcdef0123"; }, [
            new(0, Ip, From, To, "defer:new"),
            new(60, Ip, From, To, "defer:early-retry (240s missing)"),
            new(300, Ip, From, To, "pass:triplet found+header")]),
        ["short delay"] = (o => o.DelaySeconds = 2, [
            new(0, Ip, From, To, "defer:new"),
            new(1, Ip, From, To, "defer:early-retry (1s missing)"),
            new(2, Ip, From, To, "pass:triplet found+header")]),
    };

    private static void Whitelist(GreylistOptions o, string[] clients, string[] recipients)
    {
        // Marker read by the test: whitelists are given as entries instead of files.
        o.WhitelistClientFiles = ["inline:" + string.Join('\n', clients)];
        o.WhitelistRecipientFiles = ["inline:" + string.Join('\n', recipients)];
    }

    private static Step[] AutoWhitelistSteps(bool expectAwl = true)
    {
        var steps = new List<Step>();
        long t = 0;
        // Two triplets pass within one hour: counted once.
        steps.Add(new(t, Ip, From, "r0@example.net", "defer:new"));
        steps.Add(new(t, Ip, From, "r1@example.net", "defer:new"));
        steps.Add(new(t + 300, Ip, From, "r0@example.net", "pass:triplet found+header"));
        steps.Add(new(t + 301, Ip, From, "r1@example.net", "pass:triplet found+header"));
        t += 301;
        // Four more passes, each more than an hour after the last counted one: counts 2..5.
        for (int i = 2; i <= 5; i++)
        {
            t += 3600;
            steps.Add(new(t, Ip, From, $"r{i}@example.net", "defer:new"));
            steps.Add(new(t + 300, Ip, From, $"r{i}@example.net", "pass:triplet found+header"));
            t += 300;
            if (i == 4)
            {
                // Only four counted so far (the r1 pass did not count): still greylisted.
                steps.Add(new(t + 1, Ip, From, "before@example.net", "defer:new"));
            }
        }
        // The full IP is whitelisted, not its /24.
        steps.Add(new(t + 10, Ip, From, "new@example.net", expectAwl ? "pass:client AWL" : "defer:new"));
        steps.Add(new(t + 11, "192.0.2.11", From, "other@example.net", "defer:new"));
        return steps.ToArray();
    }

    public static IEnumerable<object[]> CaseNames()
    {
        foreach (string name in Cases.Keys)
        {
            yield return [name, "sqlite"];
            yield return [name, "redis"];
        }
    }

    [SkippableTheory]
    [MemberData(nameof(CaseNames))]
    public async Task Engine_Case_MatchesPostgrey(string name, string store)
    {
        (Action<GreylistOptions> configure, Step[] steps) = Cases[name];
        var options = new GreylistOptions { HostName = "mx.test", WhitelistClientFiles = [], WhitelistRecipientFiles = [] };
        configure(options);
        GreylistWhitelists? inline = null;
        if (options.WhitelistClientFiles.FirstOrDefault()?.StartsWith("inline:", StringComparison.Ordinal) == true)
        {
            inline = GreylistWhitelists.FromEntries(
                options.WhitelistClientFiles[0]["inline:".Length..].Split('\n', StringSplitOptions.RemoveEmptyEntries),
                options.WhitelistRecipientFiles[0]["inline:".Length..].Split('\n', StringSplitOptions.RemoveEmptyEntries));
            options.WhitelistClientFiles = [];
            options.WhitelistRecipientFiles = [];
        }
        var time = new FakeTimeProvider(Start);
        await using IGreylistStore greylistStore = await _fixture.OpenAsync(store);
        var engine = new GreylistEngine(options, greylistStore, [], time, NullLogger<GreylistEngine>.Instance);
        if (inline is not null)
        {
            engine.SetWhitelists(inline);
        }

        for (int i = 0; i < steps.Length; i++)
        {
            Step step = steps[i];
            time.SetUtcNow(Start.AddSeconds(step.At));
            var request = new GreylistRequest(IPAddress.Parse(step.Client), step.ClientName, step.Sender, step.Recipient, step.Instance, "helo.example.com");

            GreylistDecision decision = await engine.CheckAsync(request, CancellationToken.None);

            string actual = (decision.Action == GreylistAction.Defer ? "defer:" : "pass:") + decision.Reason + (decision.PrependHeader is null ? "" : "+header");
            Assert.True(step.Expect == actual, $"step {i} (t={step.At}, {step.Client}, {step.Sender}, {step.Recipient}): expected {step.Expect}, got {actual}");
            if (decision.Action == GreylistAction.Defer)
            {
                string domain = step.Recipient[(step.Recipient.LastIndexOf('@') + 1)..];
                Assert.Equal($"4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/{domain}.html", decision.DeferText);
            }
            if (decision.PrependHeader is not null)
            {
                Assert.StartsWith("X-Greylist: delayed ", decision.PrependHeader);
                Assert.Contains(" seconds by contentfilter-", decision.PrependHeader);
                Assert.Contains(" at mx.test; ", decision.PrependHeader);
            }
        }
    }
}
