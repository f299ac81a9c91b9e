using System.Buffers;
using ContentFilter.Protocols.Clamd;

namespace ContentFilter.Fuzz.Targets;

/// <summary>clamd replies: <see cref="ClamdReplyReader"/>.</summary>
/// <remarks>
/// Invariants: piece sizes change nothing; a reply is <see cref="ClamdReplyKind.Clean"/> only for exactly
/// <c>stream: OK</c> (an unparsed reply is never clean); FOUND always names something; a small cap refuses a long reply.
/// </remarks>
internal static class ClamdTarget
{
    public static void Run(byte[] data)
    {
        foreach (ClamdLimits limits in new[] { new ClamdLimits(), new ClamdLimits { MaxReplyLength = 24 } })
        {
            FeedResult<(ClamdReply Reply, long Length)> result = Feeder.FeedAllWays<(ClamdReply, long)>(data, () => Step(limits), (a, b) => a == b);
            foreach ((ClamdReply reply, long length) in result.Items)
            {
                FuzzInvariantException.Check(length - 1 <= limits.MaxReplyLength, "a reply over the cap was read");
                Check(reply);
            }
            var end = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
            _ = ClamdReplyReader.AtEndOfStream(end);
        }
        if (ClamdReplyReader.TryParseLine(data, out ClamdReply line))
        {
            Check(line);
            FuzzInvariantException.Check(line.Kind != ClamdReplyKind.Clean || data.AsSpan().SequenceEqual("stream: OK"u8) || data.AsSpan().SequenceEqual("stream: OK\n"u8), "clean without exactly \"stream: OK\"");
        }
    }

    private static void Check(ClamdReply reply)
    {
        FuzzInvariantException.Check(reply.Kind != ClamdReplyKind.Found || reply.Text.Trim().Length > 0, "FOUND without a name");
        FuzzInvariantException.Check(!reply.Text.Any(c => c < ' '), "reply text holds a control character");
    }

    private static ReadStep<(ClamdReply, long)> Step(ClamdLimits limits) =>
        (ref SequenceReader<byte> reader, out (ClamdReply, long) item, out string? error) =>
        {
            item = default;
            error = null;
            long before = reader.Consumed;
            if (ClamdReplyReader.TryRead(ref reader, limits, out ClamdReply reply, out ClamdError e))
            {
                item = (reply, reader.Consumed - before);
                FuzzInvariantException.Check(reply.Kind != ClamdReplyKind.Clean || item.Item2 is 11 or 12, "clean from a reply that is not \"stream: OK\"");
                return true;
            }
            FuzzInvariantException.Check(reader.Consumed == before, "a refused or incomplete reply consumed bytes");
            error = e == ClamdError.None ? null : e.ToString();
            return false;
        };
}
