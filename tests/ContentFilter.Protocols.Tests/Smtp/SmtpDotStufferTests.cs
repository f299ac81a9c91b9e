using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Smtp;
using FsCheck;
using FsCheck.Fluent;

namespace ContentFilter.Protocols.Tests.Smtp;

public class SmtpDotStufferTests
{
    private static string Esc(byte[] b) => Encoding.Latin1.GetString(b).Replace("\r", "\\r").Replace("\n", "\\n");

    private static byte[] Stuff(string message) => SmtpDotStuffer.StuffAll(Encoding.Latin1.GetBytes(message));

    [Theory]
    [InlineData("", ".\r\n")]
    [InlineData("a\r\n", "a\r\n.\r\n")]
    [InlineData("a", "a\r\n.\r\n")]
    [InlineData(".", "..\r\n.\r\n")]
    [InlineData(".\r\n", "..\r\n.\r\n")]
    [InlineData("a\r\n.b\r\n", "a\r\n..b\r\n.\r\n")]
    [InlineData("a\r\n..\r\n", "a\r\n...\r\n.\r\n")]
    [InlineData("a.b\r\nc . d\r\n", "a.b\r\nc . d\r\n.\r\n")]
    [InlineData("a\r\n.\r\nMAIL FROM:<x>\r\n", "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n")]
    [InlineData("ends in bare lf\n", "ends in bare lf\n\r\n.\r\n")]
    [InlineData("ends in bare cr\r", "ends in bare cr\r\r\n.\r\n")]
    public void StuffAll_Messages_ProduceDataForm(string message, string expected)
    {
        Assert.Equal(expected, Esc(Stuff(message)).Replace("\\r", "\r").Replace("\\n", "\n"));
    }

    // Each smuggling sequence from the 2023 SMTP smuggling research: the dot after any CR or LF is doubled, so none
    // of them can end DATA at a receiver that takes bare LF or bare CR as a line end.
    [Theory]
    [InlineData("x\n.\nMAIL FROM:<e>\r\n", "x\n..\nMAIL FROM:<e>\r\n.\r\n")]
    [InlineData("x\r.\rMAIL FROM:<e>\r\n", "x\r..\rMAIL FROM:<e>\r\n.\r\n")]
    [InlineData("x\n.\r\nMAIL FROM:<e>\r\n", "x\n..\r\nMAIL FROM:<e>\r\n.\r\n")]
    [InlineData("x\r.\nMAIL FROM:<e>\r\n", "x\r..\nMAIL FROM:<e>\r\n.\r\n")]
    [InlineData("x\r\n.\nMAIL FROM:<e>\r\n", "x\r\n..\nMAIL FROM:<e>\r\n.\r\n")]
    [InlineData("x\r\n.\rMAIL FROM:<e>\r\n", "x\r\n..\rMAIL FROM:<e>\r\n.\r\n")]
    [InlineData("x\n\n.\n\nMAIL FROM:<e>\r\n", "x\n\n..\n\nMAIL FROM:<e>\r\n.\r\n")]
    [InlineData("x\r\n\r\n.\n", "x\r\n\r\n..\n\r\n.\r\n")]
    [InlineData("x\n.", "x\n..\r\n.\r\n")]
    [InlineData("x\r.", "x\r..\r\n.\r\n")]
    public void StuffAll_SmugglingSequences_DotsAreDoubled(string message, string expected)
    {
        Assert.Equal(Encoding.Latin1.GetBytes(expected), Stuff(message));
    }

    public static TheoryData<string> SplitCases => new()
    {
        "a\r\n.b\r\n..c\r\n",
        "x\n.\nMAIL FROM:<e>\r\n",
        "x\r.\rq\r.\n",
        "x\r\n.\n.\r\n.",
        ".\r\n.\r\n",
        "no line end",
        "ends\r",
        "\r\n",
        ".",
    };

    [Theory]
    [MemberData(nameof(SplitCases))]
    public void Write_SplitAtEveryOffsetPair_SameAsOneChunk(string message)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(message);
        byte[] expected = SmtpDotStuffer.StuffAll(bytes);
        for (int i = 0; i <= bytes.Length; i++)
        {
            for (int j = i; j <= bytes.Length; j++)
            {
                var output = new ArrayBufferWriter<byte>();
                var stuffer = new SmtpDotStuffer();
                stuffer.Write(bytes.AsSpan(0, i), output);
                stuffer.Write(bytes.AsSpan(i, j - i), output);
                stuffer.Write(bytes.AsSpan(j), output);
                stuffer.Complete(output);
                Assert.True(expected.AsSpan().SequenceEqual(output.WrittenSpan), $"split {i},{j}: {Esc(output.WrittenSpan.ToArray())}");
                Assert.Equal(bytes.Length, stuffer.MessageLength);
            }
        }
    }

    [Fact]
    public void Write_OneByteChunks_SameAsOneChunk()
    {
        byte[] bytes = Encoding.Latin1.GetBytes("a\r\n.\r\n\n.\n\r.\r.x\r\n..\r\nend");
        var output = new ArrayBufferWriter<byte>();
        var stuffer = new SmtpDotStuffer();
        foreach (byte b in bytes)
        {
            stuffer.Write(new[] { b }, output);
        }
        stuffer.Complete(output);
        Assert.Equal(SmtpDotStuffer.StuffAll(bytes), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Complete_Twice_Throws()
    {
        var stuffer = new SmtpDotStuffer();
        stuffer.Complete(new ArrayBufferWriter<byte>());
        Assert.Throws<InvalidOperationException>(() => stuffer.Complete(new ArrayBufferWriter<byte>()));
        Assert.Throws<InvalidOperationException>(() => stuffer.Write("x"u8, new ArrayBufferWriter<byte>()));
    }

    // Message bytes drawn mostly from the interesting alphabet: dots, CR, LF, a letter.
    private static Arbitrary<byte[]> Messages() =>
        Gen.Elements((byte)'.', (byte)'\r', (byte)'\n', (byte)'a', (byte)'\r', (byte)'\n', (byte)'.').ArrayOf().ToArbitrary();

    /// <summary>
    /// A receiver that takes CRLF, bare LF and bare CR all as line ends (the loosest notion any MTA has) finds the
    /// first "end of data" (a line that is a lone dot) only at our terminator.
    /// </summary>
    [FsCheck.Xunit.Property]
    public Property Output_LooseReceiver_SeesEndOnlyAtTerminator()
    {
        return Prop.ForAll(Messages(), message =>
        {
            byte[] wire = SmtpDotStuffer.StuffAll(message);
            int end = FirstLooseEndOfData(wire);
            return end == wire.Length - 3;
        });
    }

    /// <summary>
    /// A strict RFC 5321 receiver (only CRLF ends a line; a leading dot after CRLF is removed) gets the message back
    /// exactly, except for the documented extra dot after a bare CR or bare LF, plus CRLF when it did not end in one.
    /// </summary>
    [FsCheck.Xunit.Property]
    public Property Output_StrictReceiver_GetsMessageBackWithDocumentedChange()
    {
        return Prop.ForAll(Messages(), message =>
        {
            byte[] wire = SmtpDotStuffer.StuffAll(message);
            byte[] received = StrictUnstuff(wire);
            return received.AsSpan().SequenceEqual(StrictExpectation(message));
        });
    }

    [FsCheck.Xunit.Property]
    public Property Output_MessagesWithOnlyCrLfLineEnds_RoundTripExactly()
    {
        Arbitrary<byte[]> crlfMessages = Gen.Elements("a", ".", "..", "\r\n", "b.c", "\r\n.")
            .ListOf()
            .Select(parts => Encoding.Latin1.GetBytes(string.Concat(parts) + "\r\n"))
            .ToArbitrary();
        return Prop.ForAll(crlfMessages, message => StrictUnstuff(SmtpDotStuffer.StuffAll(message)).AsSpan().SequenceEqual(message));
    }

    private static int FirstLooseEndOfData(byte[] wire)
    {
        // Line starts: position 0 (the DATA command's CRLF precedes it) or after any CR or LF.
        for (int i = 0; i < wire.Length; i++)
        {
            bool lineStart = i == 0 || wire[i - 1] is (byte)'\r' or (byte)'\n';
            if (lineStart && wire[i] == (byte)'.' && i + 1 < wire.Length && wire[i + 1] is (byte)'\r' or (byte)'\n')
            {
                return i;
            }
        }
        return -1;
    }

    private static byte[] StrictUnstuff(byte[] wire)
    {
        var output = new List<byte>();
        int i = 0;
        bool lineStart = true;
        while (i < wire.Length)
        {
            if (lineStart && wire[i] == (byte)'.')
            {
                if (i + 2 < wire.Length && wire[i + 1] == (byte)'\r' && wire[i + 2] == (byte)'\n')
                {
                    break; // end of data
                }
                i++; // remove the stuffing dot
            }
            byte b = wire[i++];
            output.Add(b);
            lineStart = b == (byte)'\n' && output.Count >= 2 && output[^2] == (byte)'\r';
        }
        // The terminator's CRLF belongs to the last line: a strict receiver stores the message ending in CRLF.
        return output.ToArray();
    }

    private static byte[] StrictExpectation(byte[] message)
    {
        var output = new List<byte>();
        for (int i = 0; i < message.Length; i++)
        {
            byte b = message[i];
            // A dot after a bare CR or a bare LF is doubled on the wire; a strict receiver keeps the extra one.
            if (b == (byte)'.' && i > 0)
            {
                bool afterCrLf = message[i - 1] == (byte)'\n' && i >= 2 && message[i - 2] == (byte)'\r';
                bool afterBare = message[i - 1] is (byte)'\r' or (byte)'\n' && !afterCrLf;
                if (afterBare)
                {
                    output.Add((byte)'.');
                }
            }
            output.Add(b);
        }
        if (message.Length > 0 && !(message.Length >= 2 && message[^2] == (byte)'\r' && message[^1] == (byte)'\n'))
        {
            output.Add((byte)'\r');
            output.Add((byte)'\n');
        }
        return output.ToArray();
    }
}
