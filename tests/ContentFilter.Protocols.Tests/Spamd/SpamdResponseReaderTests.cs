using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Spamd;
using ContentFilter.Protocols.Tests.Smtp;

namespace ContentFilter.Protocols.Tests.Spamd;

public class SpamdResponseReaderTests
{
    private const string Gtube = "SPAMD/1.1 0 EX_OK\r\nContent-length: 27\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE,NO_RECEIVED,NO_RELAYS";

    private static bool Read(string wire, bool final, out SpamdResponse response, out SpamdError error)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire)));
        return SpamdResponseReader.TryRead(ref reader, final, SpamdLimits.Default, out response, out error);
    }

    [Fact]
    public void TryRead_ObservedGtubeResponse_ScoreThresholdAndSymbols()
    {
        Assert.True(Read(Gtube, final: false, out SpamdResponse r, out _));
        Assert.Equal("1.1", r.ProtocolVersion);
        Assert.Equal(0, r.Code);
        Assert.Equal("EX_OK", r.Message);
        Assert.True(r.IsSpam);
        Assert.Equal(1000.0, r.Score);
        Assert.Equal(5.0, r.Threshold);
        Assert.Equal(new[] { "GTUBE", "NO_RECEIVED", "NO_RELAYS" }, r.Symbols);
    }

    [Theory]
    [InlineData("False ; -1.9 / 5.0", false, -1.9, 5.0)]
    [InlineData("True ; 7.2 / 5.0", true, 7.2, 5.0)]
    [InlineData("Yes ; 6.0 / 6.31", true, 6.0, 6.31)]
    [InlineData("No ; 0.0 / 5.0", false, 0.0, 5.0)]
    [InlineData("False ; -0.1 / -2.0", false, -0.1, -2.0)]
    public void TryParseSpamHeader_Forms_Parsed(string value, bool spam, double score, double threshold)
    {
        Assert.True(SpamdResponseReader.TryParseSpamHeader(value, out bool s, out double sc, out double th));
        Assert.Equal(spam, s);
        Assert.Equal(score, sc);
        Assert.Equal(threshold, th);
    }

    [Theory]
    [InlineData("Maybe ; 1.0 / 5.0")]
    [InlineData("True 1.0 / 5.0")]
    [InlineData("True ; abc / 5.0")]
    [InlineData("True ; 1.0")]
    [InlineData("True ; NaN / 5.0")]
    [InlineData("True ; 1,5 / 5.0")]
    public void TryParseSpamHeader_Garbage_Refused(string value)
    {
        Assert.False(SpamdResponseReader.TryParseSpamHeader(value, out _, out _, out _));
    }

    [Fact]
    public void TryRead_OneLineErrorThenClose_NonZeroCode()
    {
        Assert.True(Read("SPAMD/1.0 76 Bad header line: (header not in 'Name: value' format)\r\n", final: true, out SpamdResponse r, out _));
        Assert.Equal(76, r.Code);
        Assert.False(r.IsOk);
        Assert.StartsWith("Bad header line", r.Message);
    }

    [Fact]
    public void TryRead_ErrorLineBeforeClose_NeedsMore()
    {
        Assert.False(Read("SPAMD/1.0 76 Bad header line\r\n", final: false, out _, out SpamdError error));
        Assert.Equal(SpamdError.None, error);
    }

    [Fact]
    public void TryRead_PingReply_Pong()
    {
        Assert.True(Read("SPAMD/1.5 0 PONG\r\n", final: true, out SpamdResponse r, out _));
        Assert.True(r.IsOk);
        Assert.Equal("PONG", r.Message);
        Assert.Null(r.Score);
    }

    [Fact]
    public void TryRead_NoContentLength_BodyUntilClose()
    {
        string wire = "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.2 / 5.0\r\n\r\nA,B";
        Assert.False(Read(wire, final: false, out _, out SpamdError e1));
        Assert.Equal(SpamdError.None, e1);
        Assert.True(Read(wire, final: true, out SpamdResponse r, out _));
        Assert.Equal(new[] { "A", "B" }, r.Symbols);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", SpamdError.BadStatusLine)]
    [InlineData("SPAMD/1.1 x EX_OK\r\n\r\n", SpamdError.BadStatusLine)]
    [InlineData("SPAMD/ 0 EX_OK\r\n\r\n", SpamdError.BadStatusLine)]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nno colon here\r\n\r\n", SpamdError.BadHeader)]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nSpam: whatever\r\n\r\n", SpamdError.BadSpamHeader)]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nContent-length: -1\r\n\r\n", SpamdError.BadContentLength)]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nContent-length: 99999999999\r\n\r\n", SpamdError.BadContentLength)]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nContent-length: 10\r\n\r\nshort", SpamdError.Truncated)]
    [InlineData("SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1.0 / 5.0\r\n", SpamdError.Truncated)]
    [InlineData("garbage without newline", SpamdError.Truncated)]
    [InlineData("", SpamdError.Truncated)]
    public void TryRead_BadResponse_ErrorReason(string wire, SpamdError expected)
    {
        Assert.False(Read(wire, final: true, out _, out SpamdError error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void TryRead_LineLongerThanCap_LineTooLong()
    {
        Assert.False(Read("SPAMD/1.1 0 " + new string('x', 9000), final: false, out _, out SpamdError error));
        Assert.Equal(SpamdError.LineTooLong, error);
    }

    [Fact]
    public void TryRead_TooManyHeaders_BadHeader()
    {
        string wire = "SPAMD/1.1 0 EX_OK\r\n" + string.Concat(Enumerable.Repeat("X: y\r\n", 100)) + "\r\n";
        Assert.False(Read(wire, final: true, out _, out SpamdError error));
        Assert.Equal(SpamdError.BadHeader, error);
    }

    [Fact]
    public void TryRead_SplitAtEveryOffset_NeedsMoreThenSameResult()
    {
        byte[] wire = Encoding.ASCII.GetBytes(Gtube);
        for (int split = 1; split < wire.Length; split++)
        {
            var partial = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire, 0, split));
            Assert.False(SpamdResponseReader.TryRead(ref partial, false, SpamdLimits.Default, out _, out SpamdError error));
            Assert.Equal(SpamdError.None, error);
            Assert.Equal(0, partial.Consumed);

            var whole = new SequenceReader<byte>(Sequences.Of(Sequences.Cut(wire, split)));
            Assert.True(SpamdResponseReader.TryRead(ref whole, false, SpamdLimits.Default, out SpamdResponse r, out _));
            Assert.Equal(1000.0, r.Score);
            Assert.Equal(3, r.Symbols.Count);
            Assert.Equal(wire.Length, whole.Consumed);
        }
    }

    [FsCheck.Xunit.Property]
    public bool TryRead_AnyBytes_NeverThrows(byte[] bytes, bool final)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        SpamdResponseReader.TryRead(ref reader, final, SpamdLimits.Default, out _, out _);
        return true;
    }
}
