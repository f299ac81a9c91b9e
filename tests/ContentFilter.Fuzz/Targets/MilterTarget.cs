using System.Buffers;
using ContentFilter.Protocols.Milter;

namespace ContentFilter.Fuzz.Targets;

/// <summary>Milter packets, both directions: <see cref="MilterPacketReader"/> (MTA to filter) and <see cref="MilterReplyReader"/>.</summary>
/// <remarks>
/// Invariants: piece sizes change nothing; "need more" consumes nothing; every decoded packet written back with
/// <see cref="MilterCommandWriter"/> / <see cref="MilterReplyWriter"/> decodes to the same thing (the written form
/// is stable); and a small cap refuses instead of allocating.
/// </remarks>
internal static class MilterTarget
{
    private static readonly MilterLimits Unlimited = new() { MaxPacketSize = int.MaxValue };

    public static void Run(byte[] data)
    {
        foreach (MilterLimits limits in new[] { MilterLimits.Default, new MilterLimits { MaxPacketSize = 32 } })
        {
            Feeder.FeedAllWays(data, () => CommandStep(new MilterPacketReader(limits), limits.MaxPacketSize), SameBytes);
            Feeder.FeedAllWays(data, () => ReplyStep(new MilterReplyReader(limits), limits.MaxPacketSize), SameBytes);
        }
    }

    private static bool SameBytes(byte[] a, byte[] b) => a.AsSpan().SequenceEqual(b);

    // Items are the packet written back: decode, write, decode again, write again; both writes must agree. The written
    // form is read back without the small cap: invalid UTF-8 decodes to U+FFFD, which is longer when written.
    private static ReadStep<byte[]> CommandStep(MilterPacketReader packets, int cap) =>
        (ref SequenceReader<byte> reader, out byte[]? item, out string? error) =>
        {
            item = null;
            error = null;
            SequenceReader<byte> before = reader;
            SequenceReader<byte> bodyProbe = reader;
            bool body = packets.TryReadBody(ref bodyProbe, out ReadOnlySequence<byte> chunk);
            FuzzInvariantException.Check(body || bodyProbe.Consumed == before.Consumed, "TryReadBody consumed bytes without a body");
            if (!packets.TryRead(ref reader, out MilterCommand command, out MilterError e))
            {
                FuzzInvariantException.Check(!body, "TryReadBody took a packet TryRead refuses");
                FuzzInvariantException.Check(reader.Consumed == before.Consumed, "a refused or incomplete packet consumed bytes");
                error = e == MilterError.None ? null : e.ToString();
                return false;
            }
            FuzzInvariantException.Check(reader.Consumed - before.Consumed - 4 <= cap, "a command over the cap was read");
            FuzzInvariantException.Check(body == command is MilterCommand.Body, "TryReadBody and TryRead disagree on a body packet");
            FuzzInvariantException.Check(!body || (bodyProbe.Consumed == reader.Consumed && chunk.ToArray().AsSpan().SequenceEqual(((MilterCommand.Body)command).Chunk)),
                "TryReadBody's chunk differs from TryRead's");
            byte[] written = Write(command);
            var again = new SequenceReader<byte>(new ReadOnlySequence<byte>(written));
            FuzzInvariantException.Check(new MilterPacketReader(Unlimited).TryRead(ref again, out MilterCommand command2, out MilterError e2) && again.End, $"a written {command.Code} packet does not read back ({e2})");
            FuzzInvariantException.Check(command2.Equals(command) && Write(command2).AsSpan().SequenceEqual(written), $"a {command.Code} packet reads back differently");
            item = written;
            return true;
        };

    private static ReadStep<byte[]> ReplyStep(MilterReplyReader packets, int cap) =>
        (ref SequenceReader<byte> reader, out byte[]? item, out string? error) =>
        {
            item = null;
            error = null;
            SequenceReader<byte> before = reader;
            if (!packets.TryRead(ref reader, out MilterReply reply, out MilterError e))
            {
                FuzzInvariantException.Check(reader.Consumed == before.Consumed, "a refused or incomplete reply consumed bytes");
                error = e == MilterError.None ? null : e.ToString();
                return false;
            }
            FuzzInvariantException.Check(reader.Consumed - before.Consumed - 4 <= cap, "a reply over the cap was read");
            byte[] written = Write(reply);
            var again = new SequenceReader<byte>(new ReadOnlySequence<byte>(written));
            FuzzInvariantException.Check(new MilterReplyReader(Unlimited).TryRead(ref again, out MilterReply reply2, out MilterError e2) && again.End, $"a written {reply.GetType().Name} reply does not read back ({e2})");
            FuzzInvariantException.Check(Write(reply2).AsSpan().SequenceEqual(written), $"a {reply.GetType().Name} reply reads back differently");
            item = written;
            return true;
        };

    private static byte[] Write(MilterCommand command)
    {
        var output = new ArrayBufferWriter<byte>();
        MilterCommandWriter.Write(command, output);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Write(MilterReply reply)
    {
        var output = new ArrayBufferWriter<byte>();
        MilterReplyWriter.Write(reply, output);
        return output.WrittenSpan.ToArray();
    }
}
