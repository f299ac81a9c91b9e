using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Spamd;

namespace ContentFilter.Protocols.Tests.Spamd;

public class SpamdRequestWriterTests
{
    private static string Write(SpamdRequest request)
    {
        var output = new ArrayBufferWriter<byte>();
        SpamdRequestWriter.Write(request, output);
        return Encoding.ASCII.GetString(output.WrittenSpan);
    }

    [Fact]
    public void Write_Symbols_ExactContentLengthCase()
    {
        Assert.Equal("SYMBOLS SPAMC/1.5\r\nContent-length: 1234\r\n\r\n", Write(new SpamdRequest(SpamdCommand.Symbols, 1234)));
    }

    [Fact]
    public void Write_WithUser_UserHeaderAfterLength()
    {
        Assert.Equal("REPORT SPAMC/1.5\r\nContent-length: 0\r\nUser: amavis\r\n\r\n", Write(new SpamdRequest(SpamdCommand.Report, 0, "amavis")));
    }

    [Fact]
    public void Write_Ping_EmptyLineUnder15()
    {
        Assert.Equal("PING SPAMC/1.5\r\n\r\n", Write(new SpamdRequest(SpamdCommand.Ping, null)));
    }

    [Theory]
    [InlineData("bob\r\nContent-length: 1")]
    [InlineData("has space")]
    [InlineData("")]
    public void Write_UserWithControlOrSpace_RefusedOrOmitted(string user)
    {
        if (user.Length == 0)
        {
            Assert.DoesNotContain("User:", Write(new SpamdRequest(SpamdCommand.Symbols, 1, user)));
            return;
        }
        Assert.Throws<ArgumentException>(() => Write(new SpamdRequest(SpamdCommand.Symbols, 1, user)));
    }
}
