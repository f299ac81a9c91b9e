using System.Net;
using ContentFilter.Checks.Dns;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Pipeline.Greylisting;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Checks.Tests.Greylisting;

public class FcrdnsGreylistExemptionTests
{
    private static readonly GreylistRequest Request = new(IPAddress.Parse("192.0.2.10"), "unknown", "alice@bigsender.example", "bob@example.net", "inst1", "mta1.bigsender.example");

    [Fact]
    public async Task IsExempt_ForwardLookupHangsPastTimeout_NotExempt()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 8, 0, 0, TimeSpan.Zero));
        var dns = new HangingForwardDns();
        var exemption = new FcrdnsGreylistExemption(dns, ["bigsender.example"], time, TimeSpan.FromSeconds(5));
        Task<bool> pending = exemption.IsExemptAsync(Request, CancellationToken.None);
        await dns.Asked.Task.WaitAsync(TimeSpan.FromSeconds(10));

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.False(await pending.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task IsExempt_CallerCancels_Throws()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 8, 0, 0, TimeSpan.Zero));
        var dns = new HangingForwardDns();
        var exemption = new FcrdnsGreylistExemption(dns, ["bigsender.example"], time, TimeSpan.FromSeconds(5));
        using var cts = new CancellationTokenSource();
        Task<bool> pending = exemption.IsExemptAsync(Request, cts.Token);
        await dns.Asked.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>Answers the PTR at once (a name under the listed domain) and never answers the forward lookup.</summary>
    private sealed class HangingForwardDns : IDnsResolver
    {
        public TaskCompletionSource Asked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<DnsAnswer<string>> TxtAsync(string name, CancellationToken cancellationToken) => throw new NotSupportedException();

        public async Task<DnsAnswer<IPAddress>> AddressesAsync(string name, CancellationToken cancellationToken)
        {
            Asked.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        public Task<DnsAnswer<string>> PtrAsync(IPAddress address, CancellationToken cancellationToken) =>
            Task.FromResult(new DnsAnswer<string>(DnsStatus.Ok, ["mta1.bigsender.example."]));
    }
}
