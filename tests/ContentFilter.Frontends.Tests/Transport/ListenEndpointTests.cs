using System.Net;
using ContentFilter.Frontends.Transport;

namespace ContentFilter.Frontends.Tests.Transport;

public class ListenEndpointTests
{
    [Theory]
    [InlineData("127.0.0.1:10024", "127.0.0.1:10024", true)]
    [InlineData("[::1]:10024", "[::1]:10024", true)]
    [InlineData("localhost:10026", "127.0.0.1:10026", true)]
    [InlineData("0.0.0.0:10024", "0.0.0.0:10024", false)]
    [InlineData("192.0.2.1:25", "192.0.2.1:25", false)]
    [InlineData("unix:/run/contentfilter/smtp.sock", "unix:/run/contentfilter/smtp.sock", true)]
    [InlineData("127.0.0.1:0", "127.0.0.1:0", true)]
    public void TryParse_Valid_RoundTripsAndKnowsLoopback(string text, string normal, bool local)
    {
        Assert.True(ListenEndpoint.TryParse(text, out ListenEndpoint? e, out string? error), error);
        Assert.Equal(normal, e!.ToString());
        Assert.Equal(local, e.IsLocal);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("127.0.0.1", "port is missing")]
    [InlineData("::1:10024", "brackets")]
    [InlineData("[::1]10024", "[ipv6]:port")]
    [InlineData("mail.example.org:10024", "not an IP address")]
    [InlineData("127.0.0.1:70000", "not a port number")]
    [InlineData("127.0.0.1:abc", "not a port number")]
    [InlineData("unix:relative.sock", "must be absolute")]
    public void TryParse_Invalid_SaysWhy(string text, string because)
    {
        Assert.False(ListenEndpoint.TryParse(text, out _, out string? error));
        Assert.Contains(because, error);
    }

    [Fact]
    public void AllowList_Empty_IsLoopbackOnly_AndMapsIpv4InIpv6()
    {
        Assert.True(ClientAllowList.TryParse(null, out ClientAllowList? list, out _));
        Assert.True(list!.Allows(IPAddress.Parse("127.0.0.5")));
        Assert.True(list.Allows(IPAddress.Parse("::1")));
        Assert.True(list.Allows(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.False(list.Allows(IPAddress.Parse("192.0.2.1")));
    }

    [Fact]
    public void AllowList_Cidrs_AndBareAddresses()
    {
        Assert.True(ClientAllowList.TryParse(new[] { "192.0.2.0/24", "2001:db8::/32", "198.51.100.7" }, out ClientAllowList? list, out _));
        Assert.True(list!.Allows(IPAddress.Parse("192.0.2.200")));
        Assert.True(list.Allows(IPAddress.Parse("2001:db8:1::5")));
        Assert.True(list.Allows(IPAddress.Parse("198.51.100.7")));
        Assert.False(list.Allows(IPAddress.Parse("198.51.100.8")));
        Assert.False(list.Allows(IPAddress.Parse("127.0.0.1")));
    }

    [Fact]
    public void AllowList_Garbage_SaysWhy()
    {
        Assert.False(ClientAllowList.TryParse(new[] { "10.0.0.0/33" }, out _, out string? error));
        Assert.Contains("CIDR", error);
    }

    [Fact]
    public void ListenerOptions_NonLoopbackWithoutAllowList_Refused()
    {
        var o = new ListenerOptions { Name = "inbound", Endpoint = "0.0.0.0:10024" };
        string error = Assert.Single(o.Validate());
        Assert.Contains("AllowedClients", error);
        Assert.Contains("inbound", error);
        o.AllowedClients.Add("192.0.2.0/24");
        Assert.Empty(o.Validate());
    }

    [Fact]
    public void ListenerOptions_ToListenerPolicy_CarriesChecksAndDirection()
    {
        var o = new ListenerOptions { Name = "originating", Direction = Pipeline.Messages.MessageDirection.Originating, Checks = new() { "clamav", "dkim-sign" } };
        Pipeline.Checks.ListenerPolicy p = o.ToListenerPolicy();
        Assert.True(p.Runs("CLAMAV"));
        Assert.False(p.Runs("spamassassin"));
        Assert.Equal(Pipeline.Messages.MessageDirection.Originating, p.Direction);
    }
}
