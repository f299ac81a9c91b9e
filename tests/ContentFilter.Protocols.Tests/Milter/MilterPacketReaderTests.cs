using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Milter;
using static ContentFilter.Protocols.Tests.Milter.MilterTestBytes;

namespace ContentFilter.Protocols.Tests.Milter;

public sealed class MilterPacketReaderTests
{
    private static readonly MilterPacketReader Reader = new();

    /// <summary>One packet of every command Postfix sends, as the bytes milter8.c writes.</summary>
    public static TheoryData<string, byte[], MilterCommand> Packets()
    {
        var data = new TheoryData<string, byte[], MilterCommand>
        {
            { "optneg", Packet('O', 0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff), new MilterCommand.OptNeg(6, (MilterActions)0x1ff, (MilterProtocol)0x1fffff) },
            { "macro-connect", Packet('D', Cat([(byte)'C'], Z("j"), Z("mx.example.org"), Z("{daemon_name}"), Z("ORIGINATING"))), new MilterCommand.Macro(MilterCommandCode.Connect, [new("j", "mx.example.org"), new("{daemon_name}", "ORIGINATING")]) },
            { "macro-empty", Packet('D', (byte)'L'), new MilterCommand.Macro(MilterCommandCode.Header, []) },
            { "connect-ipv4", Packet('C', Cat(Z("mail.example.com"), [(byte)'4', 0x9c, 0x40], Z("192.0.2.7"))), new MilterCommand.Connect("mail.example.com", '4', 40000, "192.0.2.7") },
            { "connect-ipv6", Packet('C', Cat(Z("[2001:db8::1]"), [(byte)'6', 0, 25], Z("2001:db8::1"))), new MilterCommand.Connect("[2001:db8::1]", '6', 25, "2001:db8::1") },
            { "connect-unknown", Packet('C', Cat(Z("localhost"), [(byte)'U'])), new MilterCommand.Connect("localhost", 'U', 0, null) },
            { "helo", Packet('H', Z("client.example.com")), new MilterCommand.Helo("client.example.com") },
            { "mail", Packet('M', Cat(Z("<a@example.com>"), Z("SIZE=100"), Z("BODY=8BITMIME"))), new MilterCommand.Mail("<a@example.com>", ["SIZE=100", "BODY=8BITMIME"]) },
            { "mail-null", Packet('M', Z("<>")), new MilterCommand.Mail("<>", []) },
            { "rcpt", Packet('R', Cat(Z("<b@example.org>"), Z("NOTIFY=NEVER"))), new MilterCommand.Rcpt("<b@example.org>", ["NOTIFY=NEVER"]) },
            { "data", Packet('T'), new MilterCommand.Data() },
            { "header", Packet('L', Cat(Z("Subject"), Z(" hello\n\tworld"))), new MilterCommand.Header("Subject", Encoding.UTF8.GetBytes(" hello\n\tworld")) },
            { "header-empty-value", Packet('L', Cat(Z("X-Empty"), Z(""))), new MilterCommand.Header("X-Empty", []) },
            { "eoh", Packet('N'), new MilterCommand.EndOfHeaders() },
            { "body", Packet('B', Encoding.ASCII.GetBytes("line 1\r\nline 2\r\n")), new MilterCommand.Body(Encoding.ASCII.GetBytes("line 1\r\nline 2\r\n")) },
            { "eob", Packet('E'), new MilterCommand.BodyEob([]) },
            { "eob-with-chunk", Packet('E', Encoding.ASCII.GetBytes("tail\r\n")), new MilterCommand.BodyEob(Encoding.ASCII.GetBytes("tail\r\n")) },
            { "abort", Packet('A'), new MilterCommand.Abort() },
            { "quit", Packet('Q'), new MilterCommand.Quit() },
            { "quit-nc", Packet('K'), new MilterCommand.QuitNewConnection() },
            { "unknown", Packet('U', Z("XYZZY plugh")), new MilterCommand.Unknown("XYZZY plugh") },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Packets))]
    public void TryRead_WholePacket_DecodesCommand(string name, byte[] packet, MilterCommand expected)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(packet));
        Assert.True(Reader.TryRead(ref reader, out MilterCommand command, out MilterError error), name);
        Assert.Equal(MilterError.None, error);
        Assert.Equal(expected, command);
        Assert.True(reader.End);
    }

    [Theory]
    [MemberData(nameof(Packets))]
    public void TryRead_SplitAtEveryOffset_NeedsMoreThenDecodes(string name, byte[] packet, MilterCommand expected)
    {
        for (int cut = 0; cut < packet.Length; cut++)
        {
            // A prefix is never a packet and never an error: nothing consumed.
            var partial = new SequenceReader<byte>(new ReadOnlySequence<byte>(packet, 0, cut));
            Assert.False(Reader.TryRead(ref partial, out _, out MilterError partialError), $"{name} prefix {cut}");
            Assert.Equal(MilterError.None, partialError);
            Assert.Equal(0, partial.Consumed);

            // The whole packet in two segments split at the offset.
            var reader = new SequenceReader<byte>(Split(packet, cut));
            Assert.True(Reader.TryRead(ref reader, out MilterCommand command, out _), $"{name} split {cut}");
            Assert.Equal(expected, command);
        }
        var bytewise = new SequenceReader<byte>(Bytewise(packet));
        Assert.True(Reader.TryRead(ref bytewise, out MilterCommand one, out _));
        Assert.Equal(expected, one);
    }

    [Fact]
    public void TryRead_AllPacketsBackToBack_ReadsEachInOrder()
    {
        List<(string Name, byte[] Packet, MilterCommand Expected)> all = Packets().Select(r => ((string)r[0], (byte[])r[1], (MilterCommand)r[2])).ToList();
        byte[] stream = Cat(all.Select(p => p.Packet).ToArray());
        var reader = new SequenceReader<byte>(Split(stream, 3, 17, 100, 101, 250));
        foreach ((string name, _, MilterCommand expected) in all)
        {
            Assert.True(Reader.TryRead(ref reader, out MilterCommand command, out _), name);
            Assert.Equal(expected, command);
        }
        Assert.True(reader.End);
    }

    [Fact]
    public void TryReadBody_BodyPacketSplitAtEveryOffset_GivesTheChunkWithoutCopyOnlyWhenWhole()
    {
        byte[] body = Encoding.ASCII.GetBytes("line 1\r\nline 2\r\n");
        byte[] stream = Cat(Packet('B', body), Packet('E'));
        for (int cut = 0; cut < stream.Length; cut++)
        {
            var partial = new SequenceReader<byte>(new ReadOnlySequence<byte>(stream, 0, Math.Min(cut, 4 + 1 + body.Length - 1)));
            Assert.False(Reader.TryReadBody(ref partial, out _), $"prefix {cut}");
            Assert.Equal(0, partial.Consumed);

            ReadOnlySequence<byte> split = Split(stream, cut);
            var reader = new SequenceReader<byte>(split);
            Assert.True(Reader.TryReadBody(ref reader, out ReadOnlySequence<byte> chunk), $"split {cut}");
            Assert.Equal(body, chunk.ToArray());
            Assert.Equal(4 + 1 + body.Length, reader.Consumed);

            // What follows is left for TryRead.
            Assert.False(Reader.TryReadBody(ref reader, out _));
            Assert.True(Reader.TryRead(ref reader, out MilterCommand next, out _));
            Assert.Equal(new MilterCommand.BodyEob([]), next);
            Assert.True(reader.End);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 0, (byte)'B' }, MilterError.ZeroLength)]
    [InlineData(new byte[] { 0, 0, 0, 101, (byte)'B' }, MilterError.TooLong)]
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, (byte)'B' }, MilterError.TooLong)]
    public void TryReadBody_BadBodyPacket_LeavesItForTryReadToReport(byte[] packet, MilterError expected)
    {
        var small = new MilterPacketReader(new MilterLimits { MaxPacketSize = 100 });
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(packet));
        Assert.False(small.TryReadBody(ref reader, out _));
        Assert.Equal(0, reader.Consumed);
        Assert.False(small.TryRead(ref reader, out _, out MilterError error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void TryReadBody_OtherCommands_AreNotTaken()
    {
        foreach (object[] row in Packets())
        {
            if (((MilterCommand)row[2]).Code == MilterCommandCode.Body)
            {
                continue;
            }
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>((byte[])row[1]));
            Assert.False(Reader.TryReadBody(ref reader, out _), (string)row[0]);
            Assert.Equal(0, reader.Consumed);
        }
    }

    [Fact]
    public void TryRead_ZeroLength_FailsWithoutReadingCommandByte()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 0 }));
        Assert.False(Reader.TryRead(ref reader, out _, out MilterError error));
        Assert.Equal(MilterError.ZeroLength, error);
    }

    [Fact]
    public void TryRead_LengthOverCap_FailsBeforeDataArrives()
    {
        var small = new MilterPacketReader(new MilterLimits { MaxPacketSize = 100 });
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(new byte[] { 0, 0, 0, 101 }));
        Assert.False(small.TryRead(ref reader, out _, out MilterError error));
        Assert.Equal(MilterError.TooLong, error);
    }

    [Fact]
    public void TryRead_LengthWithHighBitSet_IsTooLongNotNegative()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(new byte[] { 0xff, 0xff, 0xff, 0xff, (byte)'B' }));
        Assert.False(Reader.TryRead(ref reader, out _, out MilterError error));
        Assert.Equal(MilterError.TooLong, error);
    }

    [Fact]
    public void TryRead_LengthAtCap_IsAccepted()
    {
        var small = new MilterPacketReader(new MilterLimits { MaxPacketSize = 10 });
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Packet('B', new byte[9])));
        Assert.True(small.TryRead(ref reader, out MilterCommand command, out _));
        Assert.Equal(9, ((MilterCommand.Body)command).Chunk.Length);
    }

    public static TheoryData<string, byte[], MilterError> Hostile() => new()
    {
        { "unknown-command", Packet('Z', 1, 2, 3), MilterError.UnknownCommand },
        { "nul-command", Packet('\0'), MilterError.UnknownCommand },
        { "optneg-short", Packet('O', 0, 0, 0, 6), MilterError.WrongSize },
        { "optneg-long", Packet('O', new byte[13]), MilterError.WrongSize },
        { "macro-no-stage", Packet('D'), MilterError.WrongSize },
        { "macro-odd-strings", Packet('D', Cat([(byte)'C'], Z("j"))), MilterError.MissingNul },
        { "macro-unterminated", Packet('D', Cat([(byte)'C'], Z("j"), Encoding.ASCII.GetBytes("host"))), MilterError.MissingNul },
        { "connect-no-nul", Packet('C', Encoding.ASCII.GetBytes("host")), MilterError.MissingNul },
        { "connect-no-family", Packet('C', Z("host")), MilterError.WrongSize },
        { "connect-bad-family", Packet('C', Cat(Z("host"), [(byte)'X', 0, 25], Z("1.2.3.4"))), MilterError.BadFamily },
        { "connect-short-port", Packet('C', Cat(Z("host"), [(byte)'4', 0])), MilterError.WrongSize },
        { "connect-no-address-nul", Packet('C', Cat(Z("host"), [(byte)'4', 0, 25], Encoding.ASCII.GetBytes("1.2.3.4"))), MilterError.MissingNul },
        { "connect-trailing", Packet('C', Cat(Z("host"), [(byte)'4', 0, 25], Z("1.2.3.4"), [1])), MilterError.TrailingData },
        { "connect-unknown-trailing", Packet('C', Cat(Z("host"), [(byte)'U', 0])), MilterError.TrailingData },
        { "helo-no-nul", Packet('H', Encoding.ASCII.GetBytes("x")), MilterError.MissingNul },
        { "helo-trailing", Packet('H', Cat(Z("x"), Z("y"))), MilterError.TrailingData },
        { "mail-empty", Packet('M'), MilterError.WrongSize },
        { "mail-no-nul", Packet('M', Encoding.ASCII.GetBytes("<a@b>")), MilterError.MissingNul },
        { "rcpt-param-no-nul", Packet('R', Cat(Z("<a@b>"), Encoding.ASCII.GetBytes("X=1"))), MilterError.MissingNul },
        { "header-no-value", Packet('L', Z("Subject")), MilterError.MissingNul },
        { "header-trailing", Packet('L', Cat(Z("Subject"), Z("x"), [7])), MilterError.TrailingData },
        { "data-with-data", Packet('T', 1), MilterError.WrongSize },
        { "eoh-with-data", Packet('N', 1), MilterError.WrongSize },
        { "abort-with-data", Packet('A', 1), MilterError.WrongSize },
        { "quit-with-data", Packet('Q', 1), MilterError.WrongSize },
        { "unknown-no-nul", Packet('U', Encoding.ASCII.GetBytes("FOO")), MilterError.MissingNul },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void TryRead_MalformedPacket_FailsWithTypedError(string name, byte[] packet, MilterError expected)
    {
        var reader = new SequenceReader<byte>(Bytewise(packet));
        Assert.False(Reader.TryRead(ref reader, out _, out MilterError error), name);
        Assert.Equal(expected, error);
    }

    [SkippableFact]
    public void TryRead_HostileCorpusFiles_NeverThrow()
    {
        string dir = Path.Combine(RepoRoot(), "testdata", "hostile", "milter");
        Skip.IfNot(Directory.Exists(dir));
        Assert.NotEmpty(Directory.GetFiles(dir, "*.bin"));
        foreach (string file in Directory.GetFiles(dir, "*.bin"))
        {
            byte[] bytes = File.ReadAllBytes(file);
            var reader = new SequenceReader<byte>(Bytewise(bytes));
            int guard = 0;
            while (Reader.TryRead(ref reader, out _, out MilterError error) && guard++ < 1000)
            {
                Assert.Equal(MilterError.None, error);
            }
        }
    }

    private static string RepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "ContentFilter.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? AppContext.BaseDirectory;
    }
}
