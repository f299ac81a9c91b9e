using System.Net;
using System.Net.Sockets;
using ContentFilter.Checks.Antivirus;

namespace ContentFilter.Checks.Tests.Antivirus;

public class ScannerEndpointTests
{
    [Theory]
    [InlineData("unix:/var/run/clamav/clamd.ctl", "unix:/var/run/clamav/clamd.ctl")]
    [InlineData("/var/run/clamav/clamd.ctl", "unix:/var/run/clamav/clamd.ctl")]
    [InlineData("127.0.0.1:3310", "tcp:127.0.0.1:3310")]
    [InlineData("tcp:127.0.0.1:3310", "tcp:127.0.0.1:3310")]
    [InlineData("127.0.0.1", "tcp:127.0.0.1:783")]
    [InlineData("[::1]:783", "tcp:[::1]:783")]
    [InlineData("localhost:783", "tcp:localhost:783")]
    public void Parse_Forms_Canonical(string text, string display)
    {
        Assert.Equal(display, ScannerEndpoint.Parse(text, 783).Display);
    }

    [Theory]
    [InlineData("")]
    [InlineData("unix:relative/path")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("host:port")]
    [InlineData("[::1")]
    [InlineData(":783")]
    public void TryParse_Invalid_FalseWithReason(string text)
    {
        Assert.False(ScannerEndpoint.TryParse(text, 783, out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Parse_Unix_IsUnixDomainEndPoint()
    {
        ScannerEndpoint e = ScannerEndpoint.Parse("unix:/run/x.sock", 3310);
        Assert.True(e.IsUnix);
        Assert.IsType<UnixDomainSocketEndPoint>(e.EndPoint);
        Assert.IsType<IPEndPoint>(ScannerEndpoint.Parse("127.0.0.1:1", 3310).EndPoint);
    }

    [Fact]
    public void ScannerRing_NextOrder_RoundRobinAndEveryServerOnce()
    {
        var ring = new ScannerRing(new[] { "a:1", "b:1", "c:1" }.Select(s => ScannerEndpoint.Parse(s, 1)));
        string[] first = ring.NextOrder().Select(e => e.Display).ToArray();
        string[] second = ring.NextOrder().Select(e => e.Display).ToArray();
        Assert.Equal(new[] { "tcp:a:1", "tcp:b:1", "tcp:c:1" }, first);
        Assert.Equal(new[] { "tcp:b:1", "tcp:c:1", "tcp:a:1" }, second);
    }
}

public class ScannerDefaultsTests
{
    [Fact]
    public void Options_NoServersConfigured_DebianDefaults()
    {
        Assert.Equal(new[] { "unix:/var/run/clamav/clamd.ctl" }, new ContentFilter.Checks.Antivirus.ClamAvOptions().EffectiveServers);
        Assert.Equal(new[] { "127.0.0.1:783" }, new ContentFilter.Checks.Spam.SpamAssassinOptions().EffectiveServers);
        Assert.Equal(512_000, new ContentFilter.Checks.Spam.SpamAssassinOptions().MaxSize);
    }

    [Fact]
    public void Options_ServersConfigured_DefaultNotAdded()
    {
        var o = new ContentFilter.Checks.Antivirus.ClamAvOptions { Servers = { "127.0.0.1:3310" } };
        Assert.Equal(new[] { "127.0.0.1:3310" }, o.EffectiveServers);
    }
}
