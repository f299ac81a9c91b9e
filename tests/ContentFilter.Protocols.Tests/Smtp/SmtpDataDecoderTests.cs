using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Smtp;
using ContentFilter.Testing.Smtp;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Protocols.Tests.Smtp;

public class SmtpDataDecoderTests
{
    /// <summary>Decodes the pieces in order like a session; returns the output, whether the end was seen, and what followed it.</summary>
    internal static (byte[] Output, bool Ended, byte[] Remainder) Decode(IEnumerable<byte[]> pieces, SmtpDataDecoder? decoder = null)
    {
        decoder ??= new SmtpDataDecoder();
        var output = new ArrayBufferWriter<byte>();
        var rest = new List<byte>();
        bool ended = false;
        foreach (byte[] piece in pieces)
        {
            if (ended)
            {
                rest.AddRange(piece);
                continue;
            }
            ReadOnlySequence<byte> seq = piece.Length > 2 ? Sequences.Of(Sequences.Cut(piece, piece.Length / 2)) : Sequences.Of(piece);
            var reader = new SequenceReader<byte>(seq);
            ended = decoder.TryRead(ref reader, output);
            if (ended)
            {
                rest.AddRange(seq.Slice(reader.Position).ToArray());
            }
            else
            {
                Assert.True(reader.End, "a decoder that needs more must have consumed everything");
            }
        }
        return (output.WrittenSpan.ToArray(), ended, rest.ToArray());
    }

    private static (string Output, bool Ended, string Remainder) DecodeText(string wire)
    {
        (byte[] o, bool e, byte[] r) = Decode(new[] { Encoding.Latin1.GetBytes(wire) });
        return (Encoding.Latin1.GetString(o), e, Encoding.Latin1.GetString(r));
    }

    [Fact]
    public void TryRead_SimpleMessage_EndsAtCrlfDotCrlf()
    {
        (string o, bool e, string r) = DecodeText("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n");
        Assert.True(e);
        Assert.Equal("Subject: x\r\n\r\nbody\r\n", o);
        Assert.Equal("QUIT\r\n", r);
    }

    [Fact]
    public void TryRead_EmptyMessage_EndsImmediately()
    {
        (string o, bool e, string r) = DecodeText(".\r\nQUIT\r\n");
        Assert.True(e);
        Assert.Equal(string.Empty, o);
        Assert.Equal("QUIT\r\n", r);
    }

    [Fact]
    public void TryRead_StuffedDots_Unstuffed()
    {
        (string o, bool e, _) = DecodeText("..\r\n...x\r\n.y\r\na.b\r\n.\r\n");
        Assert.True(e);
        Assert.Equal(".\r\n..x\r\ny\r\na.b\r\n", o);
    }

    [Fact]
    public void TryRead_NoEnd_NeedsMore()
    {
        (_, bool e, _) = DecodeText("line\r\n.\r");
        Assert.False(e);
    }

    [Theory]
    [InlineData("\n.\n")]
    [InlineData("\r.\r")]
    [InlineData("\n.\r\n")]
    [InlineData("\r.\n")]
    [InlineData("\r\n.\n")]
    [InlineData("\r.\r\n")]
    [InlineData("\n.\r")]
    [InlineData("\r\n.\r")]
    [InlineData("\r\n.\r\r\n")]
    [InlineData("\n..\n")]
    [InlineData("\r\n\n.\n")]
    [InlineData("\r\r\n.\n")]
    public void TryRead_SmugglingSequence_IsContentAndCannotEndDataDownstream(string sequence)
    {
        string smuggled = "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nFrom: ceo@example.net\r\n\r\nwire money\r\n";
        string wire = "From: a@example.org\r\nSubject: s\r\n\r\nbody" + sequence + smuggled + ".\r\nQUIT\r\n";
        byte[] bytes = Encoding.ASCII.GetBytes(wire);
        (byte[] expected, bool ended, byte[] rest) = Decode(new[] { bytes });

        // Exactly one message, ending at the real CRLF.CRLF, whatever the split.
        Assert.True(ended);
        Assert.Equal("QUIT\r\n", Encoding.ASCII.GetString(rest));
        string stored = Encoding.ASCII.GetString(expected);
        Assert.Contains("MAIL FROM:<evil@attacker.example>", stored);
        for (int i = 1; i < bytes.Length; i++)
        {
            (byte[] o, bool e, byte[] r) = Decode(Sequences.Cut(bytes, i));
            Assert.True(e);
            Assert.Equal(expected, o);
            Assert.Equal(rest, r);
        }

        // The stored form has no bare LF, so a CRLF-only dot-stuffer leaves no "." line a Postfix reader could stop at.
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] == (byte)'\n')
            {
                Assert.True(i > 0 && expected[i - 1] == (byte)'\r', $"bare LF stored at {i}");
            }
        }
        byte[] reinjected = Downstream.StuffAfterCrlf(expected);
        int lines = reinjected.Count(b => b == (byte)'\n');
        Assert.Equal(lines, Downstream.PostfixEndLine(reinjected));
    }

    [Fact]
    public void TryRead_BareLf_StoredAsCrlfAndCounted()
    {
        var decoder = new SmtpDataDecoder();
        (byte[] o, bool e, _) = Decode(new[] { "a\nb\r\n..c\n.\n\r\n.\r\n"u8.ToArray() }, decoder);
        Assert.True(e);
        Assert.Equal("a\r\nb\r\n.c\r\n.\r\n\r\n", Encoding.ASCII.GetString(o));
        Assert.Equal(3, decoder.BareLineFeeds);
    }

    [Fact]
    public void TryRead_BareCr_KeptVerbatim()
    {
        var decoder = new SmtpDataDecoder();
        (byte[] o, bool e, _) = Decode(new[] { "Subject: a\rb\r\n\r\nx\r\ry\r\r\n.\r\n"u8.ToArray() }, decoder);
        Assert.True(e);
        Assert.Equal("Subject: a\rb\r\n\r\nx\r\ry\r\r\n", Encoding.ASCII.GetString(o));
        Assert.Equal(4, decoder.BareCarriageReturns);
    }

    [Fact]
    public void TryRead_LongLine_StreamsWithoutEnd()
    {
        byte[] line = Enumerable.Repeat((byte)'z', 1_000_000).ToArray();
        var pieces = new List<byte[]>();
        for (int i = 0; i < line.Length; i += 4096)
        {
            pieces.Add(line[i..Math.Min(line.Length, i + 4096)]);
        }
        pieces.Add("\r\n.\r\n"u8.ToArray());
        var decoder = new SmtpDataDecoder();
        (byte[] o, bool e, _) = Decode(pieces, decoder);
        Assert.True(e);
        Assert.Equal(1_000_002, o.Length);
        Assert.Equal(1_000_002, decoder.DecodedLength);
    }

    [Fact]
    public void Reset_AfterMessage_StartsAtLineStart()
    {
        var decoder = new SmtpDataDecoder();
        (_, bool e1, _) = Decode(new[] { "x\r\n.\r\n"u8.ToArray() }, decoder);
        decoder.Reset();
        (byte[] o, bool e2, _) = Decode(new[] { ".\r\n"u8.ToArray() }, decoder);
        Assert.True(e1 && e2);
        Assert.Empty(o);
        Assert.Equal(0, decoder.DecodedLength);
    }

    private static readonly string[] LineAlphabet = { ".", "a", " ", "\t", "é", "\r", "..", "x.y" };

    private static Arbitrary<byte[]> CrlfMessages() =>
        Gen.Elements(LineAlphabet)
            .ListOf()
            .Select(parts => string.Concat(parts))
            .Select(line => line.EndsWith('\r') ? line + "x" : line)
            .ListOf()
            .Select(lines => Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\r\n"))))
            .ToArbitrary();

    [Property(MaxTest = 300)]
    public Property TryRead_StuffedCrlfMessage_RoundTripsExactly() =>
        Prop.ForAll(CrlfMessages(), Gen.Choose(1, 50).ToArbitrary(), (message, cut) =>
        {
            byte[] wire = Downstream.StuffAfterCrlf(message);
            (byte[] whole, bool e1, byte[] r1) = Decode(new[] { wire });
            (byte[] split, bool e2, byte[] r2) = Decode(Sequences.Cut(wire, cut, cut * 3, cut * 7));
            return e1 && e2 && r1.Length == 0 && r2.Length == 0 && whole.SequenceEqual(message) && split.SequenceEqual(message);
        });

    private static Arbitrary<byte[]> HostileWire() =>
        Gen.Elements("\r", "\n", ".", "a", "\r\n", "\r\n.", ".\r\n")
            .ListOf()
            .Select(parts => Encoding.ASCII.GetBytes(string.Concat(parts)))
            .ToArbitrary();

    [Property(MaxTest = 500)]
    public Property TryRead_AnyInput_EndsOnlyAtCrlfDotCrlfAndStoresNoBareLf() =>
        Prop.ForAll(HostileWire(), Gen.Choose(1, 20).ToArbitrary(), (wire, cut) =>
        {
            byte[] full = wire.Concat("\r\n.\r\n"u8.ToArray()).ToArray();
            (byte[] whole, bool ended, byte[] rest) = Decode(new[] { full });
            (byte[] split, _, byte[] rest2) = Decode(Sequences.Cut(full, cut, cut * 2));
            string text = "\r\n" + Encoding.ASCII.GetString(full); // the DATA command's CRLF precedes the data
            int firstEnd = text.IndexOf("\r\n.\r\n", StringComparison.Ordinal);
            int expectedRest = text.Length - (firstEnd + 5);
            bool noBareLf = !whole.Where((b, i) => b == (byte)'\n' && (i == 0 || whole[i - 1] != (byte)'\r')).Any();
            byte[] reinjected = Downstream.StuffAfterCrlf(whole);
            bool downstreamSafe = Downstream.PostfixEndLine(reinjected) == reinjected.Count(b => b == (byte)'\n');
            return ended && rest.Length == expectedRest && split.SequenceEqual(whole) && rest2.SequenceEqual(rest) && noBareLf && downstreamSafe;
        });
}
