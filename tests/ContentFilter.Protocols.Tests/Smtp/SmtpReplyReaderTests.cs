using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Protocols.Tests.Smtp;

public class SmtpReplyReaderTests
{
    private static (bool Ok, SmtpReceivedReply? Reply, SmtpReplyReaderError Error, long Consumed) Read(ReadOnlySequence<byte> bytes, SmtpReplyReader? reader = null)
    {
        var r = new SequenceReader<byte>(bytes);
        bool ok = (reader ?? SmtpReplyReader.Default).TryRead(ref r, out SmtpReceivedReply? reply, out SmtpReplyReaderError error);
        return (ok, reply, error, r.Consumed);
    }

    private static (bool Ok, SmtpReceivedReply? Reply, SmtpReplyReaderError Error, long Consumed) Read(string s, SmtpReplyReader? reader = null) =>
        Read(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(s)), reader);

    [Fact]
    public void TryRead_SingleLineWithEnhancedCode_SplitsCode()
    {
        const string input = "250 2.0.0 Ok: queued as 5F3A21C0B7\r\n";
        var (ok, reply, error, consumed) = Read(input);
        Assert.True(ok);
        Assert.Equal(SmtpReplyReaderError.None, error);
        Assert.Equal(250, reply!.Code);
        Assert.Equal("2.0.0", reply.EnhancedCode);
        Assert.Equal("Ok: queued as 5F3A21C0B7", reply.Text);
        Assert.Equal(input.Length, consumed);
    }

    [Fact]
    public void TryRead_MultiLine_CollectsEveryLine()
    {
        string ehlo = "250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250 8BITMIME\r\n";
        var (ok, reply, _, consumed) = Read(ehlo);
        Assert.True(ok);
        Assert.Equal(new[] { "mx.example.net", "PIPELINING", "SIZE 10240000", "XFORWARD NAME ADDR PROTO HELO", "8BITMIME" }, reply!.Lines);
        Assert.Null(reply.EnhancedCode);
        Assert.Equal(ehlo.Length, consumed);
    }

    [Theory]
    [InlineData("250\r\n", 250, "")]
    [InlineData("250 \r\n", 250, "")]
    [InlineData("354 End data with <CR><LF>.<CR><LF>\r\n", 354, "End data with <CR><LF>.<CR><LF>")]
    [InlineData("250 Ok\n", 250, "Ok")]
    [InlineData("550 5.1.1 <x@y>: Recipient address rejected\r\n", 550, "<x@y>: Recipient address rejected")]
    [InlineData("250 5.0.0 class does not match\r\n", 250, "5.0.0 class does not match")]
    [InlineData("451 4.3.0\r\n", 451, "")]
    public void TryRead_ValidForms_ParsesCodeAndText(string input, int code, string text)
    {
        var (ok, reply, _, _) = Read(input);
        Assert.True(ok);
        Assert.Equal(code, reply!.Code);
        Assert.Equal(text, reply.Text);
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request\r\n", SmtpReplyReaderError.BadCode)]
    [InlineData("25\r\n", SmtpReplyReaderError.BadCode)]
    [InlineData("199 too low\r\n", SmtpReplyReaderError.BadCode)]
    [InlineData("260 second digit\r\n", SmtpReplyReaderError.BadCode)]
    [InlineData("250x\r\n", SmtpReplyReaderError.BadSeparator)]
    [InlineData("250-first\r\n251 second\r\n", SmtpReplyReaderError.CodeMismatch)]
    [InlineData("250 nul\0here\r\n", SmtpReplyReaderError.ControlCharacter)]
    [InlineData("250 bare\rcr\r\n", SmtpReplyReaderError.ControlCharacter)]
    public void TryRead_Garbage_FailsWithTypedError(string input, SmtpReplyReaderError expected)
    {
        var (ok, _, error, consumed) = Read(input);
        Assert.False(ok);
        Assert.Equal(expected, error);
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void TryRead_LineWithoutEndPastCap_LineTooLong()
    {
        var reader = new SmtpReplyReader(new SmtpReplyReaderLimits { MaxLineLength = 64 });
        var (ok, _, error, _) = Read("250 " + new string('a', 100), reader);
        Assert.False(ok);
        Assert.Equal(SmtpReplyReaderError.LineTooLong, error);
    }

    [Fact]
    public void TryRead_LineShorterThanCapWithoutEnd_NeedsMore()
    {
        var reader = new SmtpReplyReader(new SmtpReplyReaderLimits { MaxLineLength = 64 });
        var (ok, _, error, _) = Read("250 " + new string('a', 40), reader);
        Assert.False(ok);
        Assert.Equal(SmtpReplyReaderError.None, error);
    }

    [Fact]
    public void TryRead_LineOfExactlyCap_Accepted()
    {
        var reader = new SmtpReplyReader(new SmtpReplyReaderLimits { MaxLineLength = 64 });
        string line = "250 " + new string('a', 58) + "\r\n";
        Assert.Equal(64, line.Length);
        Assert.True(Read(line, reader).Ok);
        Assert.Equal(SmtpReplyReaderError.LineTooLong, Read("250 " + new string('a', 59) + "\r\n", reader).Error);
    }

    [Fact]
    public void TryRead_TooManyLines_Fails()
    {
        var reader = new SmtpReplyReader(new SmtpReplyReaderLimits { MaxLines = 3 });
        Assert.True(Read("250-a\r\n250-b\r\n250 c\r\n", reader).Ok);
        var (ok, _, error, _) = Read("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", reader);
        Assert.False(ok);
        Assert.Equal(SmtpReplyReaderError.TooManyLines, error);
    }

    [Fact]
    public void TryRead_PipelinedReplies_ReadsOneAtATimeInOrder()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.5.1 Error: no valid recipients\r\n");
        var r = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        var codes = new List<int>();
        while (SmtpReplyReader.Default.TryRead(ref r, out SmtpReceivedReply? reply, out _))
        {
            codes.Add(reply!.Code);
        }
        Assert.Equal(new[] { 250, 250, 554 }, codes);
        Assert.Equal(bytes.Length, r.Consumed);
    }

    [Fact]
    public void TryRead_EveryPrefix_NeedsMoreUntilComplete()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("250-smtp.example\r\n250-PIPELINING\r\n250 DSN\r\n");
        for (int n = 0; n < bytes.Length; n++)
        {
            var (ok, _, error, consumed) = Read(new ReadOnlySequence<byte>(bytes, 0, n));
            Assert.False(ok, $"prefix {n}");
            Assert.Equal(SmtpReplyReaderError.None, error);
            Assert.Equal(0, consumed);
        }
        Assert.True(Read(new ReadOnlySequence<byte>(bytes)).Ok);
    }

    [Fact]
    public void TryRead_SplitIntoSegmentsAtEveryOffset_SameReply()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("250-smtp.example\r\n250-XFORWARD NAME ADDR\r\n250 2.0.0 DSN\r\n");
        SmtpReceivedReply expected = Read(new ReadOnlySequence<byte>(bytes)).Reply!;
        for (int i = 1; i < bytes.Length; i++)
        {
            for (int j = i; j < bytes.Length; j++)
            {
                ReadOnlySequence<byte> seq = Sequences.Of(bytes[..i], bytes[i..j], bytes[j..]);
                var (ok, reply, _, consumed) = Read(seq);
                Assert.True(ok, $"split {i},{j}");
                Assert.Equal(expected.Lines, reply!.Lines);
                Assert.Equal(expected.EnhancedCode, reply.EnhancedCode);
                Assert.Equal(bytes.Length, consumed);
            }
        }
    }
}
