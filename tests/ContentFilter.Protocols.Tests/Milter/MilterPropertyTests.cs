using System.Buffers;
using ContentFilter.Protocols.Milter;
using ContentFilter.Protocols.Tests.Smtp;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Protocols.Tests.Milter;

/// <summary>Both milter readers on arbitrary bytes (issue 8, fuzzing): typed errors only, resumable, piece sizes do not matter.</summary>
public class MilterPropertyTests
{
    // Length prefixes, command and reply codes, NULs and text, so that many inputs hold whole packets.
    private static readonly Gen<byte[]> PacketSoup = Gen.OneOf(
        Gen.Elements<byte[]>([0, 0, 0], [1], [3], [13], [0x80], [0xFF], [0], "O"u8.ToArray(), "C"u8.ToArray(), "L"u8.ToArray(), "M"u8.ToArray(),
                "D"u8.ToArray(), "B"u8.ToArray(), "U"u8.ToArray(), "h"u8.ToArray(), "i"u8.ToArray(), "4"u8.ToArray(), "a@b"u8.ToArray(), [0xC3, 0xA9])
            .ListOf().Select(parts => parts.SelectMany(p => p).ToArray()),
        ArbMap.Default.GeneratorFor<byte[]>());

    private static List<string> ReadCommands(IEnumerable<byte[]> pieces, MilterLimits limits)
    {
        var reader = new MilterPacketReader(limits);
        return Read(pieces, (ref SequenceReader<byte> r, out string item) =>
        {
            bool ok = reader.TryRead(ref r, out MilterCommand c, out MilterError e);
            item = ok ? c.Code + ":" + Convert.ToHexString(MilterTestBytes.Encode(c)) : e.ToString();
            return (ok, e);
        });
    }

    private static List<string> ReadReplies(IEnumerable<byte[]> pieces, MilterLimits limits)
    {
        var reader = new MilterReplyReader(limits);
        return Read(pieces, (ref SequenceReader<byte> r, out string item) =>
        {
            bool ok = reader.TryRead(ref r, out MilterReply c, out MilterError e);
            item = ok ? c.GetType().Name + ":" + Convert.ToHexString(MilterTestBytes.Encode(c)) : e.ToString();
            return (ok, e);
        });
    }

    private delegate (bool Ok, MilterError Error) Step(ref SequenceReader<byte> reader, out string item);

    /// <summary>Feeds pieces like a connection; each item is a packet or the error that ends the connection.</summary>
    private static List<string> Read(IEnumerable<byte[]> pieces, Step step)
    {
        var items = new List<string>();
        byte[] pending = [];
        foreach (byte[] piece in pieces)
        {
            ReadOnlySequence<byte> seq = Sequences.Of(pending, piece);
            var reader = new SequenceReader<byte>(seq);
            while (true)
            {
                long before = reader.Consumed;
                (bool ok, MilterError error) = step(ref reader, out string item);
                if (ok)
                {
                    items.Add(item);
                    continue;
                }
                Assert.Equal(before, reader.Consumed); // need-more and errors consume nothing
                if (error != MilterError.None)
                {
                    items.Add("error " + item);
                    return items;
                }
                break;
            }
            pending = seq.Slice(reader.Position).ToArray();
        }
        return items;
    }

    [Property(MaxTest = 500)]
    public Property CommandReader_AnyBytesAnySplit_SameAsWhole() =>
        Prop.ForAll(PacketSoup.ToArbitrary(), Gen.Choose(1, 20).ToArbitrary(), Gen.Elements(32, 1024 * 1024).ToArbitrary(), (input, cut, cap) =>
        {
            var limits = new MilterLimits { MaxPacketSize = cap };
            return ReadCommands([input], limits).SequenceEqual(ReadCommands(Sequences.Cut(input, cut, cut * 2, cut * 3), limits));
        });

    [Property(MaxTest = 500)]
    public Property ReplyReader_AnyBytesAnySplit_SameAsWhole() =>
        Prop.ForAll(PacketSoup.ToArbitrary(), Gen.Choose(1, 20).ToArbitrary(), Gen.Elements(32, 1024 * 1024).ToArbitrary(), (input, cut, cap) =>
        {
            var limits = new MilterLimits { MaxPacketSize = cap };
            return ReadReplies([input], limits).SequenceEqual(ReadReplies(Sequences.Cut(input, cut, cut * 2, cut * 3), limits));
        });

    /// <summary>Whatever a decoded command holds, writing it and reading it again gives the same command.</summary>
    [Property(MaxTest = 500)]
    public Property CommandReader_DecodedCommand_WritesBackToTheSame() =>
        Prop.ForAll(PacketSoup.ToArbitrary(), input =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(input));
            var packets = new MilterPacketReader();
            while (packets.TryRead(ref reader, out MilterCommand command, out _))
            {
                var output = new ArrayBufferWriter<byte>();
                MilterCommandWriter.Write(command, output);
                var again = new SequenceReader<byte>(new ReadOnlySequence<byte>(output.WrittenMemory));
                if (!new MilterPacketReader(new MilterLimits { MaxPacketSize = int.MaxValue }).TryRead(ref again, out MilterCommand read, out _) || !read.Equals(command) || !again.End)
                {
                    return false;
                }
            }
            return true;
        });
}
