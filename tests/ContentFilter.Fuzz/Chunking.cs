using System.Buffers;

namespace ContentFilter.Fuzz;

/// <summary>Ways to cut one input into pieces, because TCP splits where it likes (STYLE.md example 3).</summary>
internal static class Chunking
{
    /// <summary>Inputs up to this size are also fed one byte at a time.</summary>
    private const int ByteAtATimeLimit = 512;

    /// <summary>Piece sizes to feed <paramref name="data"/> in: a third then the rest, 7-byte pieces, single bytes (small inputs).</summary>
    public static IEnumerable<int[]> Plans(byte[] data)
    {
        int n = data.Length;
        if (n < 2)
        {
            yield break;
        }
        yield return [n / 3, n - n / 3];
        yield return Pieces(n, 7);
        if (n <= ByteAtATimeLimit)
        {
            yield return Pieces(n, 1);
        }
    }

    /// <summary>Splits <paramref name="data"/> by <paramref name="sizes"/>.</summary>
    public static byte[][] Split(byte[] data, int[] sizes)
    {
        var parts = new List<byte[]>();
        int pos = 0;
        foreach (int size in sizes)
        {
            parts.Add(data[pos..(pos + size)]);
            pos += size;
        }
        return parts.ToArray();
    }

    /// <summary>One sequence made of several segments (one per part).</summary>
    public static ReadOnlySequence<byte> Sequence(byte[][] parts)
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

    private static int[] Pieces(int length, int size)
    {
        var sizes = new List<int>();
        for (int pos = 0; pos < length; pos += size)
        {
            sizes.Add(Math.Min(size, length - pos));
        }
        return sizes.ToArray();
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
