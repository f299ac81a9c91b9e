using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Pipeline.Messages;

/// <summary>Writes a message as it leaves: added header fields on top, the received bytes after them, untouched.</summary>
/// <remarks>
/// Invariant: bytes are sacred. Without removals or changes, the spool is copied from byte 0 to the end verbatim.
/// With them, only the affected fields are rewritten in place; every other field keeps its exact bytes, and
/// everything after the parsed header section is copied verbatim. The MIME tree is never re-serialised, so
/// upstream DKIM signatures stay valid (RFC 6376 §3.4).
/// </remarks>
public static class OutgoingMessage
{
    /// <summary>Formats an added field: <c>Name: value CRLF</c>, with any bare-LF folding normalised to CRLF.</summary>
    /// <remarks>
    /// A value can never make more than one field: every line break in it becomes folding (a line that does not
    /// start with white space gets a space), and blank lines are dropped, since an empty line would end the header
    /// section and start the body. So a scanner's text or a sender's subject cannot inject header fields.
    /// </remarks>
    public static byte[] FormatField(string name, string value)
    {
        if (value.AsSpan().IndexOfAny('\r', '\n') < 0)
        {
            return Encoding.UTF8.GetBytes(name + ": " + value + "\r\n");
        }
        var sb = new StringBuilder(name.Length + value.Length + 8).Append(name).Append(':').Append(' ');
        bool first = true;
        foreach (string line in value.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n'))
        {
            if (first)
            {
                sb.Append(line);
                first = false;
                continue;
            }
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            sb.Append("\r\n");
            if (line[0] is not (' ' or '\t'))
            {
                sb.Append(' ');
            }
            sb.Append(line);
        }
        return Encoding.UTF8.GetBytes(sb.Append("\r\n").ToString());
    }

    /// <summary>The bytes that go before the body copy: added fields, then the edited header section if it was edited.</summary>
    /// <param name="headers">The parsed header section.</param>
    /// <param name="edits">The edits.</param>
    /// <param name="copyFrom">Where to start copying the spool verbatim after the prefix: 0 with additions only (after a
    /// leading continuation line, see below), the end of the parsed section with in-place edits.</param>
    /// <remarks>
    /// A received section that starts with white space (a continuation line with no field before it, RFC 5322
    /// §2.2.3) would fold into the last added field and extend, say, our Authentication-Results with the sender's
    /// text. Such leading lines are therefore written first, unchanged, and the added fields after them (found by
    /// scripts/fuzz, header-edit target).
    /// </remarks>
    public static byte[] BuildPrefix(MessageHeaders headers, IReadOnlyList<HeaderEdit> edits, out long copyFrom)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        bool adds = edits.Any(e => e is HeaderEdit.Add);
        HeaderField? orphan = adds && headers.Fields.Count > 0 && headers.Fields[0] is { Name.Length: 0, Offset: 0 } first
            && first.Raw.Span[0] is (byte)' ' or (byte)'\t' ? first : null;
        if (orphan is not null)
        {
            buffer.Write(orphan.Raw.Span);
        }
        foreach (HeaderEdit e in edits)
        {
            if (e is HeaderEdit.Add a)
            {
                buffer.Write(FormatField(a.Name, a.Value));
            }
        }
        bool inPlace = edits.Any(e => e is not HeaderEdit.Add);
        if (!inPlace)
        {
            copyFrom = orphan?.Raw.Length ?? 0;
            return buffer.WrittenSpan.ToArray();
        }
        var counts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (HeaderField f in headers.Fields)
        {
            if (ReferenceEquals(f, orphan))
            {
                continue;
            }
            if (f.Name.Length == 0)
            {
                buffer.Write(f.Raw.Span);
                continue;
            }
            int n = counts[f.Name] = counts.GetValueOrDefault(f.Name) + 1;
            HeaderEdit? edit = null;
            foreach (HeaderEdit e in edits)
            {
                if ((e is HeaderEdit.Remove r && r.Occurrence == n && f.Is(r.Name)) || (e is HeaderEdit.Change c && c.Occurrence == n && f.Is(c.Name)))
                {
                    edit = e;
                }
            }
            switch (edit)
            {
                case HeaderEdit.Remove:
                    break;
                case HeaderEdit.Change c:
                    buffer.Write(FormatField(f.Name, c.Value));
                    break;
                default:
                    buffer.Write(f.Raw.Span);
                    break;
            }
        }
        copyFrom = headers.SectionLength;
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Streams the outgoing message (not dot-stuffed) into <paramref name="destination"/>.</summary>
    public static async Task WriteAsync(MessageSpool spool, MessageHeaders headers, IReadOnlyList<HeaderEdit> edits, Stream destination, CancellationToken cancellationToken)
    {
        byte[] prefix = BuildPrefix(headers, edits, out long copyFrom);
        await destination.WriteAsync(prefix, cancellationToken).ConfigureAwait(false);
        await using Stream source = spool.OpenRead();
        source.Seek(copyFrom, SeekOrigin.Begin);
        // 128 KiB: a spooled file is read through the thread pool, one hop per read.
        byte[] chunk = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            int n;
            while ((n = await source.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await destination.WriteAsync(chunk.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
