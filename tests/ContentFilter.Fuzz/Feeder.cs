using System.Buffers;

namespace ContentFilter.Fuzz;

/// <summary>Reads one item from <paramref name="reader"/>: true with an item, false with an error, false without one = need more.</summary>
internal delegate bool ReadStep<T>(ref SequenceReader<byte> reader, out T? item, out string? error);

/// <summary>What a reader made of an input: the items in order, the error that stopped it (if any), and the bytes left.</summary>
internal sealed record FeedResult<T>(List<T> Items, string? Error, int Unconsumed);

/// <summary>Drives a resumable reader the way a connection does: bytes arrive in pieces, unconsumed ones are kept.</summary>
internal static class Feeder
{
    /// <summary>Feeds <paramref name="parts"/> in order; leftover bytes and the next part form a two-segment sequence.</summary>
    public static FeedResult<T> Feed<T>(byte[][] parts, ReadStep<T> step)
    {
        var items = new List<T>();
        byte[] pending = [];
        foreach (byte[] part in parts)
        {
            byte[][] segments = pending.Length == 0 ? [part] : part.Length == 0 ? [pending] : [pending, part];
            ReadOnlySequence<byte> sequence = Chunking.Sequence(segments);
            var reader = new SequenceReader<byte>(sequence);
            while (true)
            {
                long before = reader.Consumed;
                if (step(ref reader, out T? item, out string? error))
                {
                    // An item that consumed nothing would be read again forever: a hang, not a reply.
                    FuzzInvariantException.Check(reader.Consumed > before, "an item was read without consuming a byte");
                    items.Add(item!);
                    continue;
                }
                if (error is not null)
                {
                    return new FeedResult<T>(items, error, (int)reader.Remaining);
                }
                break;
            }
            pending = sequence.Slice(reader.Position).ToArray();
        }
        return new FeedResult<T>(items, null, pending.Length);
    }

    /// <summary>Feeds <paramref name="data"/> whole and in every plan of <see cref="Chunking.Plans"/>; all must agree.</summary>
    /// <param name="data">The input.</param>
    /// <param name="newStep">Makes a fresh reader's step (readers may keep state between calls).</param>
    /// <param name="same">Compares two items.</param>
    /// <param name="strictError">True when the error kind must match too; false when only "an error happened" must.</param>
    public static FeedResult<T> FeedAllWays<T>(byte[] data, Func<ReadStep<T>> newStep, Func<T, T, bool> same, bool strictError = true)
    {
        FeedResult<T> whole = Feed([data], newStep());
        foreach (int[] plan in Chunking.Plans(data))
        {
            FeedResult<T> split = Feed(Chunking.Split(data, plan), newStep());
            string where = $"pieces of [{string.Join(",", plan.Take(8))}{(plan.Length > 8 ? ",..." : "")}]";
            FuzzInvariantException.Check(split.Items.Count == whole.Items.Count, $"{where}: {split.Items.Count} items, whole input: {whole.Items.Count}");
            for (int i = 0; i < whole.Items.Count; i++)
            {
                FuzzInvariantException.Check(same(whole.Items[i], split.Items[i]), $"{where}: item {i} differs from the whole input's");
            }
            bool errorsAgree = strictError ? split.Error == whole.Error : (split.Error is null) == (whole.Error is null);
            FuzzInvariantException.Check(errorsAgree, $"{where}: error {split.Error ?? "none"}, whole input: {whole.Error ?? "none"}");
        }
        return whole;
    }
}
