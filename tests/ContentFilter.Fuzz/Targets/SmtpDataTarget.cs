using System.Buffers;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Fuzz.Targets;

/// <summary>The DATA section: <see cref="SmtpDataDecoder"/> (unstuffing, end detection) and <see cref="SmtpDotStuffer"/>.</summary>
/// <remarks>
/// Invariants: DATA ends exactly after the first <c>CRLF.CRLF</c> (the DATA command's CRLF counting as the first
/// CRLF) and nowhere else; piece sizes change nothing; the stored bytes hold no bare LF; stored bytes stuffed again
/// decode to themselves (plus the documented extra dot after a bare CR); and any message stuffed by
/// <see cref="SmtpDotStuffer"/> decodes back, ending exactly at the stuffer's terminator.
/// </remarks>
internal static class SmtpDataTarget
{
    private static ReadOnlySpan<byte> EndOfData => "\r\n.\r\n"u8;

    public static void Run(byte[] data)
    {
        (byte[] stored, bool ended, long consumed) = Decode([data]);
        foreach (int[] plan in Chunking.Plans(data))
        {
            (byte[] s2, bool e2, long c2) = Decode(Chunking.Split(data, plan));
            FuzzInvariantException.Check(e2 == ended && c2 == consumed && s2.AsSpan().SequenceEqual(stored), $"pieces of {plan.Length} give a different result");
        }

        byte[] withDataCrLf = [(byte)'\r', (byte)'\n', .. data];
        int end = withDataCrLf.AsSpan().IndexOf(EndOfData);
        FuzzInvariantException.Check(ended == (end >= 0), ended ? "DATA ended without CRLF.CRLF" : "CRLF.CRLF did not end DATA");
        if (ended)
        {
            FuzzInvariantException.Check(consumed == end + EndOfData.Length - 2, $"DATA ended after {consumed} bytes, CRLF.CRLF ends at {end + EndOfData.Length - 2}");
        }
        else
        {
            FuzzInvariantException.Check(consumed == data.Length, "not ended, yet not every byte was consumed");
        }
        CheckNoBareLf(stored);

        // The stored form stuffed again (as the proxy reinjects it) decodes to itself, ending exactly at the end.
        (byte[] again, bool ended2, long consumed2) = Decode([SmtpDotStuffer.StuffAll(stored)]);
        byte[] expected = Normalise(stored, appendLineEnd: !(stored.Length == 0 || stored.AsSpan().EndsWith("\r\n"u8)));
        FuzzInvariantException.Check(ended2 && consumed2 == SmtpDotStuffer.StuffAll(stored).Length, "reinjected stored bytes do not end exactly at the terminator");
        FuzzInvariantException.Check(again.AsSpan().SequenceEqual(expected), "reinjected stored bytes decode to something else");

        // Any message (bare CR and LF included) through the stuffer, in pieces, then the decoder.
        byte[] wire = Stuff(data);
        FuzzInvariantException.Check(wire.AsSpan().SequenceEqual(SmtpDotStuffer.StuffAll(data)), "the stuffer depends on piece sizes");
        (byte[] back, bool ended3, long consumed3) = Decode([wire]);
        FuzzInvariantException.Check(ended3 && consumed3 == wire.Length, "a stuffed message does not end exactly at its terminator");
        byte[] expectedBack = Normalise(data, appendLineEnd: !(data.Length == 0 || data.AsSpan().EndsWith("\r\n"u8)));
        FuzzInvariantException.Check(back.AsSpan().SequenceEqual(expectedBack), "a stuffed message decodes to something else");
    }

    private static (byte[] Stored, bool Ended, long Consumed) Decode(byte[][] parts)
    {
        var decoder = new SmtpDataDecoder();
        var output = new ArrayBufferWriter<byte>();
        long consumed = 0;
        foreach (byte[] part in parts)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(part));
            bool ended = decoder.TryRead(ref reader, output);
            consumed += reader.Consumed;
            if (ended)
            {
                FuzzInvariantException.Check(decoder.DecodedLength == output.WrittenCount, "DecodedLength differs from the bytes written");
                return (output.WrittenSpan.ToArray(), true, consumed);
            }
            FuzzInvariantException.Check(reader.End, "need-more returned with input left");
        }
        FuzzInvariantException.Check(decoder.DecodedLength == output.WrittenCount, "DecodedLength differs from the bytes written");
        return (output.WrittenSpan.ToArray(), false, consumed);
    }

    private static byte[] Stuff(byte[] data)
    {
        var stuffer = new SmtpDotStuffer();
        var output = new ArrayBufferWriter<byte>();
        int pos = 0;
        int size = 1;
        while (pos < data.Length)
        {
            int n = Math.Min(size, data.Length - pos);
            stuffer.Write(data.AsSpan(pos, n), output);
            pos += n;
            size = size % 5 + 1;
        }
        stuffer.Complete(output);
        FuzzInvariantException.Check(stuffer.MessageLength == data.Length, "MessageLength differs from the bytes written");
        return output.WrittenSpan.ToArray();
    }

    private static void CheckNoBareLf(byte[] stored)
    {
        for (int i = 0; i < stored.Length; i++)
        {
            FuzzInvariantException.Check(stored[i] != (byte)'\n' || (i > 0 && stored[i - 1] == (byte)'\r'), $"bare LF stored at {i}");
        }
    }

    /// <summary>What the decoder stores for a message that went through the stuffer: bare LF as CRLF, the extra dot after a bare CR kept.</summary>
    private static byte[] Normalise(byte[] message, bool appendLineEnd)
    {
        var result = new List<byte>(message.Length + 8);
        for (int i = 0; i < message.Length; i++)
        {
            byte b = message[i];
            bool bareLf = b == (byte)'\n' && (i == 0 || message[i - 1] != (byte)'\r');
            if (bareLf)
            {
                result.Add((byte)'\r');
            }
            result.Add(b);
            bool afterBareCr = b == (byte)'.' && i > 0 && message[i - 1] == (byte)'\r';
            if (afterBareCr)
            {
                result.Add((byte)'.');
            }
        }
        if (appendLineEnd)
        {
            result.Add((byte)'\r');
            result.Add((byte)'\n');
        }
        return result.ToArray();
    }
}
