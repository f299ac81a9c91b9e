using System.Net;
using ContentFilter.Checks.Dns;
using ContentFilter.Checks.Spf;
using ContentFilter.Checks.Tests.Dns;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Checks.Tests.Spf;

public sealed class SpfCheckTests
{
    private const string Message = "From: a@example.com\nSubject: hi\n\nbody\n";

    private static SpfCheck Check(IDnsResolver dns, SpfOptions? options = null, TimeProvider? time = null) =>
        new(options ?? new SpfOptions { ReceiverName = "mx.example.net" }, dns, time ?? TimeProvider.System, NullLogger<SpfCheck>.Instance);

    private static Envelope Envelope(string mailFrom, string ip = "192.0.2.10", string helo = "mail.example.com") => new()
    {
        MailFrom = mailFrom,
        Client = new ClientInfo { Address = IPAddress.Parse(ip), Helo = helo },
    };

    [Fact]
    public async Task Run_AuthorisedClient_PassWithMailFromProperty()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, Envelope("user@example.com"));

        var result = Assert.IsType<AuthResult>(await Check(dns).RunAsync(ctx, CancellationToken.None));

        AuthMethodResult spf = Assert.Single(result.Results);
        Assert.Equal("spf", spf.Method);
        Assert.Equal("pass", spf.Result);
        Assert.Equal(new KeyValuePair<string, string>("smtp.mailfrom", "user@example.com"), Assert.Single(spf.Properties));
        Assert.Contains("designates 192.0.2.10 as permitted sender", spf.Comment);
        Assert.Empty(result.AddHeaders);
    }

    [Fact]
    public async Task Run_UnauthorisedClient_FailIsAHit()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 ip4:198.51.100.0/24 -all");
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, Envelope("user@example.com"));

        var result = Assert.IsType<AuthResult>(await Check(dns).RunAsync(ctx, CancellationToken.None));

        Assert.Equal("fail", result.Results[0].Result);
        Assert.Equal(CheckStatus.Hit, result.Status);
    }

    [Fact]
    public async Task Run_NullSender_ChecksHeloIdentity()
    {
        var dns = new DictionaryDnsResolver()
            .Txt("mail.example.com", "v=spf1 a -all")
            .A("mail.example.com", "192.0.2.10");
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, Envelope(string.Empty));

        var result = Assert.IsType<AuthResult>(await Check(dns).RunAsync(ctx, CancellationToken.None));

        AuthMethodResult spf = result.Results[0];
        Assert.Equal("pass", spf.Result);
        Assert.Equal(new KeyValuePair<string, string>("smtp.helo", "mail.example.com"), Assert.Single(spf.Properties));
        Assert.Contains("TXT mail.example.com", dns.Queries);
    }

    [Fact]
    public async Task Run_DnsTimeout_TempErrorNotFailure()
    {
        var dns = new DictionaryDnsResolver().Timeout("example.com");
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, Envelope("user@example.com"));

        var result = Assert.IsType<AuthResult>(await Check(dns).RunAsync(ctx, CancellationToken.None));

        Assert.Equal("temperror", result.Results[0].Result);
        Assert.NotEqual(CheckStatus.Failed, result.Status);
    }

    [Fact]
    public async Task Run_ResolverHangs_TempErrorAfterOwnTimeout()
    {
        var time = new FakeTimeProvider();
        var check = Check(new HangingResolver(), new SpfOptions { ReceiverName = "mx", TimeoutMs = 1000 }, time);
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, Envelope("user@example.com"));

        ValueTask<CheckResult> run = check.RunAsync(ctx, CancellationToken.None);
        Assert.False(run.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));
        var result = Assert.IsType<AuthResult>(await run.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal("temperror", result.Results[0].Result);
    }

    [Fact]
    public async Task Run_NoClientAddress_Skipped()
    {
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, new Envelope { MailFrom = "user@example.com" });

        CheckResult result = await Check(new DictionaryDnsResolver()).RunAsync(ctx, CancellationToken.None);

        Assert.Equal(CheckStatus.Skipped, result.Status);
    }

    [Fact]
    public async Task Run_Originating_Skipped()
    {
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, Envelope("user@example.com"), MessageDirection.Originating);

        CheckResult result = await Check(new DictionaryDnsResolver()).RunAsync(ctx, CancellationToken.None);

        Assert.Equal(CheckStatus.Skipped, result.Status);
    }

    [Fact]
    public async Task Run_ReceivedSpfEnabled_AddsRfc7208Header()
    {
        var dns = new DictionaryDnsResolver().Txt("example.com", "v=spf1 ip4:192.0.2.0/24 -all");
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, Envelope("user@example.com"));
        var options = new SpfOptions { ReceiverName = "mx.example.net", AddReceivedSpfHeader = true };

        var result = Assert.IsType<AuthResult>(await Check(dns, options).RunAsync(ctx, CancellationToken.None));

        KeyValuePair<string, string> h = Assert.Single(result.AddHeaders);
        Assert.Equal("Received-SPF", h.Key);
        Assert.Equal("pass (mx.example.net: domain of example.com designates 192.0.2.10 as permitted sender)\r\n\treceiver=mx.example.net; client-ip=192.0.2.10; envelope-from=\"user@example.com\"; helo=mail.example.com; identity=mailfrom; mechanism=\"ip4:192.0.2.0/24\";", h.Value);
    }

    [Fact]
    public async Task Run_HostileMailFrom_ReceivedSpfValueQuotedWithoutLineBreaks()
    {
        var dns = new DictionaryDnsResolver();
        MessageContext ctx = await AuthTestMessage.ContextAsync(Message, Envelope("\"a\r\nX-Evil: 1\"@example.com"));
        var options = new SpfOptions { ReceiverName = "mx.example.net", AddReceivedSpfHeader = true };

        var result = Assert.IsType<AuthResult>(await Check(dns, options).RunAsync(ctx, CancellationToken.None));

        string value = result.AddHeaders[0].Value;
        Assert.DoesNotContain("\r\nX-Evil", value);
        Assert.Equal(2, value.Split("\r\n").Length);
    }

    private sealed class HangingResolver : IDnsResolver
    {
        public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken) => Hang<string>(cancellationToken);

        public Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken) => Hang<IPAddress>(cancellationToken);

        public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) => Hang<string>(cancellationToken);

        private static async Task<DnsAnswer<T>> Hang<T>(CancellationToken ct)
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable");
        }
    }
}
