using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Protocols.Tests.Smtp;

public class EhloCapabilitiesTests
{
    private static EhloCapabilities Parse(params string[] lines) => EhloCapabilities.Parse(new SmtpReceivedReply(250, null, lines));

    [Fact]
    public void Parse_PostfixReinjectionEhlo_FindsEveryExtension()
    {
        EhloCapabilities caps = Parse("mx.example.net", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT", "CHUNKING");
        Assert.Equal("mx.example.net", caps.Greeting);
        Assert.True(caps.Pipelining);
        Assert.True(caps.Size);
        Assert.Equal(10240000, caps.MaxSize);
        Assert.True(caps.EightBitMime);
        Assert.True(caps.SmtpUtf8);
        Assert.True(caps.Dsn);
        Assert.True(caps.EnhancedStatusCodes);
        Assert.True(caps.Xforward);
        Assert.Equal(new[] { "ADDR", "HELO", "IDENT", "NAME", "PORT", "PROTO", "SOURCE" }, caps.XforwardAttributes.Order());
    }

    [Fact]
    public void Parse_MinimalServer_OffersNothing()
    {
        EhloCapabilities caps = Parse("smtp-sink");
        Assert.False(caps.Pipelining);
        Assert.False(caps.Dsn);
        Assert.False(caps.Xforward);
        Assert.Empty(caps.XforwardAttributes);
        Assert.Null(caps.MaxSize);
    }

    [Fact]
    public void Parse_LowerCaseKeywords_MatchCaseInsensitively()
    {
        EhloCapabilities caps = Parse("host", "pipelining", "xforward name addr", "size");
        Assert.True(caps.Pipelining);
        Assert.Equal(new[] { "ADDR", "NAME" }, caps.XforwardAttributes.Order());
        Assert.True(caps.Size);
        Assert.Null(caps.MaxSize);
    }

    [Theory]
    [InlineData("AUTH=LOGIN PLAIN")]
    [InlineData("-BAD")]
    [InlineData("")]
    [InlineData("   ")]
    public void Parse_NonKeywordLines_Ignored(string line)
    {
        EhloCapabilities caps = Parse("host", line, "DSN");
        Assert.Equal(new[] { "DSN" }, caps.Keywords);
    }

    [Fact]
    public void Parse_SizeZero_MeansNoLimit()
    {
        Assert.Null(Parse("host", "SIZE 0").MaxSize);
    }
}
