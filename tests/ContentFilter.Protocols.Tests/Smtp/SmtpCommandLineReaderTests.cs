using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Protocols.Tests.Smtp;

public class SmtpCommandLineReaderTests
{
    /// <summary>Feeds <paramref name="input"/> in the given pieces the way a session does: unconsumed bytes stay buffered.</summary>
    internal static List<string> Feed(SmtpCommandLineReader lines, IEnumerable<byte[]> pieces)
    {
        var results = new List<string>();
        byte[] pending = Array.Empty<byte>();
        foreach (byte[] piece in pieces)
        {
            byte[] buffer = pending.Concat(piece).ToArray();
            // Present the buffer as two segments where possible, so segment boundaries are exercised too.
            ReadOnlySequence<byte> seq = buffer.Length > 1 ? Sequences.Of(Sequences.Cut(buffer, pending.Length)) : Sequences.Of(buffer);
            var reader = new SequenceReader<byte>(seq);
            while (true)
            {
                if (lines.TryRead(ref reader, out ReadOnlySequence<byte> line, out SmtpError error))
                {
                    results.Add(Encoding.UTF8.GetString(line.ToArray()));
                }
                else if (error != SmtpError.None)
                {
                    results.Add("!" + error);
                }
                else
                {
                    break;
                }
            }
            pending = seq.Slice(reader.Position).ToArray();
        }
        return results;
    }

    private static List<string> FeedWhole(string text, SmtpCommandLineReader? lines = null) =>
        Feed(lines ?? new SmtpCommandLineReader(), new[] { Encoding.UTF8.GetBytes(text) });

    [Fact]
    public void TryRead_PipelinedCommands_ReturnsEachLine()
    {
        Assert.Equal(new[] { "MAIL FROM:<a@b.c>", "RCPT TO:<d@e.f>", "DATA" }, FeedWhole("MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n"));
    }

    [Fact]
    public void TryRead_IncompleteLine_NeedsMore()
    {
        Assert.Empty(FeedWhole("NOOP"));
    }

    [Fact]
    public void TryRead_BareLf_EndsCommandLine()
    {
        Assert.Equal(new[] { "NOOP", "QUIT" }, FeedWhole("NOOP\nQUIT\r\n"));
    }

    [Fact]
    public void TryRead_CrInsideLine_KeptForTheParserToRefuse()
    {
        Assert.Equal(new[] { "NO\rOP" }, FeedWhole("NO\rOP\r\n"));
    }

    [Fact]
    public void TryRead_Exactly512WithCrlf_Accepted()
    {
        string line = "NOOP " + new string('x', 512 - 2 - 5);
        Assert.Equal(new[] { line }, FeedWhole(line + "\r\n"));
    }

    [Fact]
    public void TryRead_513WithCrlf_LineTooLong()
    {
        string line = "NOOP " + new string('x', 513 - 2 - 5);
        Assert.Equal(new[] { "!LineTooLong", "QUIT" }, FeedWhole(line + "\r\nQUIT\r\n"));
    }

    [Fact]
    public void TryRead_HugeLineInSmallPieces_ReportedOnceAtItsEndAndNeverBuffered()
    {
        var lines = new SmtpCommandLineReader();
        var pieces = new List<byte[]> { "NOOP "u8.ToArray() };
        for (int i = 0; i < 1000; i++)
        {
            pieces.Add(Encoding.ASCII.GetBytes(new string('y', 1000)));
        }
        pieces.Add("\r\nQUIT\r\n"u8.ToArray());

        var results = new List<string>();
        byte[] pending = Array.Empty<byte>();
        int maxBuffered = 0;
        foreach (byte[] piece in pieces)
        {
            byte[] buffer = pending.Concat(piece).ToArray();
            maxBuffered = Math.Max(maxBuffered, buffer.Length);
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(buffer));
            while (true)
            {
                if (lines.TryRead(ref reader, out ReadOnlySequence<byte> line, out SmtpError error))
                {
                    results.Add(Encoding.ASCII.GetString(line.ToArray()));
                }
                else if (error != SmtpError.None)
                {
                    results.Add("!" + error);
                }
                else
                {
                    break;
                }
            }
            pending = buffer[(int)reader.Consumed..];
        }
        Assert.Equal(new[] { "!LineTooLong", "QUIT" }, results);
        Assert.True(maxBuffered < 2048 + 1000, $"buffered {maxBuffered} bytes");
    }

    [Fact]
    public void TryRead_MailWithLongDsnParameters_AllowedUpToMailRcptCap()
    {
        string line = "RCPT TO:<a@b.c> NOTIFY=FAILURE ORCPT=rfc822;" + new string('z', 500);
        Assert.Equal(new[] { line }, FeedWhole(line + "\r\n"));
        string tooLong = "RCPT TO:<a@b.c> ORCPT=rfc822;" + new string('z', 2100);
        Assert.Equal(new[] { "!LineTooLong" }, FeedWhole(tooLong + "\r\n"));
    }

    [Fact]
    public void TryRead_Nul_RefusedAndNextLineRead()
    {
        Assert.Equal(new[] { "!NulCharacter", "QUIT" }, FeedWhole("NO\0OP\r\nQUIT\r\n"));
    }

    [Fact]
    public void TryRead_SplitAtEveryOffset_SameResult()
    {
        string text = "EHLO x\r\nMAIL FROM:<a@b.c> SIZE=10\r\nNOOP " + new string('q', 600) + "\r\nRC\0PT\r\nRCPT TO:<d@e.f>\nDATA\r\n";
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        List<string> expected = FeedWhole(text);
        Assert.Equal(new[] { "EHLO x", "MAIL FROM:<a@b.c> SIZE=10", "!LineTooLong", "!NulCharacter", "RCPT TO:<d@e.f>", "DATA" }, expected);
        for (int i = 1; i < bytes.Length; i++)
        {
            Assert.Equal(expected, Feed(new SmtpCommandLineReader(), Sequences.Cut(bytes, i)));
            Assert.Equal(expected, Feed(new SmtpCommandLineReader(), Sequences.Cut(bytes, i / 2, i)));
        }
    }

    [Fact]
    public void TryRead_ByteAtATime_SameResult()
    {
        string text = "HELO a\r\nNOOP " + new string('w', 700) + "\r\nQUIT\r\n";
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        Assert.Equal(FeedWhole(text), Feed(new SmtpCommandLineReader(), bytes.Select(b => new[] { b })));
    }
}
