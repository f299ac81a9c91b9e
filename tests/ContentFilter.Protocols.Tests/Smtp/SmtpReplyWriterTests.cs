using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Protocols.Tests.Smtp;

public class SmtpReplyWriterTests
{
    private static string Write(int code, string? enhanced, params string[] lines)
    {
        var b = new ArrayBufferWriter<byte>();
        SmtpReplyWriter.Write(code, enhanced, lines, b);
        return Encoding.UTF8.GetString(b.WrittenSpan);
    }

    [Fact]
    public void Write_OneLine_CodeEnhancedText()
    {
        Assert.Equal("250 2.0.0 Ok\r\n", Write(250, "2.0.0", "Ok"));
    }

    [Fact]
    public void Write_MultiLine_ContinuationMarks()
    {
        Assert.Equal("250-mx.example\r\n250-PIPELINING\r\n250 DSN\r\n", Write(250, null, "mx.example", "PIPELINING", "DSN"));
    }

    [Fact]
    public void Write_MultiLineWithEnhanced_CodeOnEveryLine()
    {
        Assert.Equal("550-5.7.1 a\r\n550 5.7.1 b\r\n", Write(550, "5.7.1", "a", "b"));
    }

    [Fact]
    public void Write_TextWithCrlf_CannotInjectALine()
    {
        string s = Write(250, "2.0.0", "Ok\r\n250 2.0.0 injected");
        Assert.Equal("250 2.0.0 Ok  250 2.0.0 injected\r\n", s);
    }

    [Fact]
    public void Write_LongText_CutTo512()
    {
        string s = Write(451, "4.3.0", new string('é', 600));
        Assert.True(Encoding.UTF8.GetByteCount(s) <= 512);
        Assert.EndsWith("\r\n", s);
        Assert.DoesNotContain('\uFFFD', s);
    }

    [Fact]
    public void Write_Error_MapsToItsReply()
    {
        var b = new ArrayBufferWriter<byte>();
        SmtpReplyWriter.Write(SmtpError.LineTooLong, b);
        Assert.Equal("500 5.5.2 Line too long\r\n", Encoding.ASCII.GetString(b.WrittenSpan));
    }
}
