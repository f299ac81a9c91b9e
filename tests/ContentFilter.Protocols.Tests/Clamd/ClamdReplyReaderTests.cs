using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Clamd;
using ContentFilter.Protocols.Tests.Smtp;

namespace ContentFilter.Protocols.Tests.Clamd;

public class ClamdReplyReaderTests
{
    private static bool Read(string wire, out ClamdReply reply, out ClamdError error, out long consumed)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(wire)));
        bool ok = ClamdReplyReader.TryRead(ref reader, ClamdLimits.Default, out reply, out error);
        consumed = reader.Consumed;
        return ok;
    }

    [Theory]
    [InlineData("stream: OK\0", ClamdReplyKind.Clean, "")]
    [InlineData("stream: Eicar-Test-Signature FOUND\0", ClamdReplyKind.Found, "Eicar-Test-Signature")]
    [InlineData("stream: Eicar-Lab-NDB.UNOFFICIAL FOUND\0", ClamdReplyKind.Found, "Eicar-Lab-NDB.UNOFFICIAL")]
    [InlineData("stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\0", ClamdReplyKind.Found, "Heuristics.Limits.Exceeded.MaxFileSize")]
    [InlineData("INSTREAM size limit exceeded. ERROR\0", ClamdReplyKind.SizeLimitExceeded, "INSTREAM size limit exceeded.")]
    [InlineData("stream: Can't allocate memory ERROR\0", ClamdReplyKind.Error, "Can't allocate memory")]
    [InlineData("UNKNOWN COMMAND ERROR\0", ClamdReplyKind.Error, "UNKNOWN COMMAND")]
    [InlineData("PONG\0", ClamdReplyKind.Pong, "")]
    [InlineData("ClamAV 1.4.6/27000/Tue Nov 24 08:00:00 2026\0", ClamdReplyKind.Version, "ClamAV 1.4.6/27000/Tue Nov 24 08:00:00 2026")]
    [InlineData("stream: OK\n\0", ClamdReplyKind.Clean, "")]
    public void TryRead_KnownReply_Classified(string wire, ClamdReplyKind kind, string text)
    {
        Assert.True(Read(wire, out ClamdReply reply, out ClamdError error, out long consumed));
        Assert.Equal(ClamdError.None, error);
        Assert.Equal(kind, reply.Kind);
        Assert.Equal(text, reply.Text);
        Assert.Equal(Encoding.UTF8.GetByteCount(wire), consumed);
    }

    [Theory]
    [InlineData("stream: ok\0")]
    [InlineData("OK\0")]
    [InlineData("stream:  FOUND\0")]
    [InlineData("stream: FOUND\0")]
    [InlineData("HTTP/1.1 400 Bad Request\0")]
    [InlineData("\0")]
    [InlineData("stream: Evil\r\nOK FOUND\0")]
    public void TryRead_Garbage_IsUnrecognizedNeverClean(string wire)
    {
        Assert.False(Read(wire, out _, out ClamdError error, out long consumed));
        Assert.Equal(ClamdError.UnrecognizedReply, error);
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void TryRead_NoTerminatorYet_NeedsMore()
    {
        Assert.False(Read("stream: O", out _, out ClamdError error, out long consumed));
        Assert.Equal(ClamdError.None, error);
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void TryRead_NoTerminatorPastCap_ReplyTooLong()
    {
        Assert.False(Read(new string('A', 5000), out _, out ClamdError error, out _));
        Assert.Equal(ClamdError.ReplyTooLong, error);
    }

    [Fact]
    public void TryRead_TerminatedButLongerThanCap_ReplyTooLong()
    {
        var limits = new ClamdLimits { MaxReplyLength = 16 };
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("stream: A-very-long-name FOUND\0")));
        Assert.False(ClamdReplyReader.TryRead(ref reader, limits, out _, out ClamdError error));
        Assert.Equal(ClamdError.ReplyTooLong, error);
    }

    [Fact]
    public void TryRead_SeveralFound_AllReadInOrder()
    {
        byte[] wire = Encoding.ASCII.GetBytes("stream: A.UNOFFICIAL FOUND\0stream: B FOUND\0");
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire));
        var names = new List<string>();
        while (ClamdReplyReader.TryRead(ref reader, ClamdLimits.Default, out ClamdReply r, out _))
        {
            names.Add(r.Text);
        }
        Assert.Equal(new[] { "A.UNOFFICIAL", "B" }, names);
        Assert.Equal(ClamdError.None, ClamdReplyReader.AtEndOfStream(reader));
    }

    [Fact]
    public void AtEndOfStream_LeftoverBytes_Truncated()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>("stream: O"u8.ToArray()));
        Assert.Equal(ClamdError.TruncatedReply, ClamdReplyReader.AtEndOfStream(reader));
    }

    [Fact]
    public void TryRead_SplitAtEveryOffsetAndAcrossSegments_SameResult()
    {
        byte[] wire = Encoding.ASCII.GetBytes("stream: Win.Test.EICAR_HDB-1 FOUND\0");
        for (int split = 1; split < wire.Length; split++)
        {
            ReadOnlySequence<byte> seq = Sequences.Of(Sequences.Cut(wire, split));
            var reader = new SequenceReader<byte>(seq);
            Assert.True(ClamdReplyReader.TryRead(ref reader, ClamdLimits.Default, out ClamdReply reply, out _));
            Assert.Equal("Win.Test.EICAR_HDB-1", reply.Text);

            var partial = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire, 0, split));
            Assert.False(ClamdReplyReader.TryRead(ref partial, ClamdLimits.Default, out _, out ClamdError error));
            Assert.Equal(ClamdError.None, error);
            Assert.Equal(0, partial.Consumed);
        }
    }

    [FsCheck.Xunit.Property]
    public bool TryParseLine_AnyBytes_NeverThrowsAndCleanOnlyForExactOk(byte[] bytes)
    {
        bool ok = ClamdReplyReader.TryParseLine(bytes, out ClamdReply reply);
        return !ok || reply.Kind != ClamdReplyKind.Clean || bytes.AsSpan().SequenceEqual("stream: OK"u8) || bytes.AsSpan().SequenceEqual("stream: OK\n"u8);
    }
}
