using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Protocols.Tests.Smtp;

public class XtextEncoderTests
{
    [Theory]
    [InlineData("mail.example.org", "mail.example.org")]
    [InlineData("a+b=c d", "a+2Bb+3Dc+20d")]
    [InlineData("x\r\nMAIL FROM:<e>", "x+0D+0AMAIL+20FROM:<e>")]
    [InlineData("é", "+C3+A9")]
    [InlineData("", "")]
    [InlineData("[UNAVAILABLE]", "[UNAVAILABLE]")]
    public void Encode_Values_MatchRfc3461(string value, string expected)
    {
        Assert.Equal(expected, XtextEncoder.Encode(value));
    }

    [Theory]
    [InlineData("rfc822;a+2Bb@example.org", "rfc822;a+b@example.org")]
    [InlineData("+C3+A9", "é")]
    [InlineData("broken+Z1", "broken+Z1")]
    [InlineData("end+4", "end+4")]
    public void Decode_Values_Decodes(string xtext, string expected)
    {
        Assert.Equal(expected, XtextEncoder.Decode(xtext));
    }

    [FsCheck.Xunit.Property]
    public bool Decode_OfEncode_RoundTrips(string? value)
    {
        string v = (value ?? string.Empty).Replace('\uFFFD', 'x');
        // Lone surrogates cannot survive UTF-8 either way; compare on the UTF-8 view.
        string normalised = System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(v));
        string encoded = XtextEncoder.Encode(v);
        return XtextEncoder.Decode(encoded) == normalised && encoded.All(c => c is >= '!' and <= '~' && c != '=');
    }
}
