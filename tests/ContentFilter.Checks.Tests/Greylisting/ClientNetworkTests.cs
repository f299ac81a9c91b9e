using System.Net;
using ContentFilter.Checks.Greylisting;

namespace ContentFilter.Checks.Tests.Greylisting;

public class ClientNetworkTests
{
    [Theory]
    [InlineData("192.0.2.10", false, "192.0.2")]
    [InlineData("192.0.2.10", true, "192.0.2.10")]
    [InlineData("::ffff:192.0.2.10", false, "192.0.2")]
    [InlineData("2001:db8:0:1:2:3:4:5", false, "2001:db8:0:1")]
    [InlineData("2001:0db8:00ff::1", false, "2001:db8:ff:0")]
    [InlineData("2001:db8::1", true, "2001:db8::1")]
    public void KeyPart_Address_NetworkAsPostgrey(string address, bool byHost, string expected)
    {
        Assert.Equal(expected, ClientNetwork.KeyPart(IPAddress.Parse(address), byHost));
    }
}
