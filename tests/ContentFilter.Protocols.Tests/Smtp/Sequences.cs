using System.Buffers;

namespace ContentFilter.Protocols.Tests.Smtp;

/// <summary>Builds multi-segment sequences, because TCP splits where it likes.</summary>
internal static class Sequences
{
    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        if (parts.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        var first = new Segment(parts[0], 0);
        Segment last = first;
        for (int i = 1; i < parts.Length; i++)
        {
            last = last.Append(parts[i]);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Splits <paramref name="data"/> into pieces at the given cut points.</summary>
    public static byte[][] Cut(byte[] data, params int[] cuts)
    {
        var parts = new List<byte[]>();
        int prev = 0;
        foreach (int c in cuts.Where(c => c > 0 && c < data.Length).Distinct().Order())
        {
            parts.Add(data[prev..c]);
            prev = c;
        }
        parts.Add(data[prev..]);
        return parts.ToArray();
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
