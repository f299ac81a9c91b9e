using ContentFilter.Pipeline.Messages;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Fuzz.Targets;

/// <summary>The header editor: <see cref="MessageSpool.ReadHeaders"/>, <see cref="HeaderEdits"/> and <see cref="OutgoingMessage.BuildPrefix"/>.</summary>
/// <remarks>
/// The input is a stored message. Edits like the verdict policy's (fields added on top, fields removed and changed
/// by occurrence, values taken from other fields) are applied with and without a header cap that truncates the
/// section. Invariants ("bytes are sacred"): everything after the parsed header section leaves byte for byte; the
/// message as sent parses into exactly the added fields, the kept fields with their received bytes, the changed
/// fields, and then the fields that followed the parsed section unchanged; with additions only, the whole message
/// follows the added fields verbatim.
/// </remarks>
internal static class HeaderEditTarget
{
    public static void Run(byte[] data)
    {
        using var spool = new MessageSpool(new SpoolOptions { Directory = Path.GetTempPath(), InMemoryThreshold = int.MaxValue }, "fuzz");
        int half = data.Length / 2;
        spool.WriteAsync(data.AsMemory(0, half), CancellationToken.None).AsTask().GetAwaiter().GetResult();
        spool.WriteAsync(data.AsMemory(half), CancellationToken.None).AsTask().GetAwaiter().GetResult();
        spool.CompleteAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        FuzzInvariantException.Check(spool.FilePath is null, "the fuzz spool left memory");

        foreach (int cap in new[] { int.MaxValue, Math.Max(1, data.Length / 2) })
        {
            MessageHeaders headers = spool.ReadHeaders(cap);
            FuzzInvariantException.Check(headers.SectionLength <= Math.Min(cap, data.Length), "the parsed section is longer than the cap");
            _ = headers.Get("From");
            _ = headers.Count("Received");

            var addsOnly = new HeaderEdits();
            addsOnly.Add("X-Fuzz-Added", "yes");
            byte[] prefix = OutgoingMessage.BuildPrefix(headers, addsOnly, out long copyFrom);
            byte[] leading = Orphan(headers)?.Raw.ToArray() ?? [];
            FuzzInvariantException.Check(copyFrom == leading.Length && prefix.AsSpan().SequenceEqual([.. leading, .. "X-Fuzz-Added: yes\r\n"u8]), "additions alone rewrote received bytes");
            Edit(data, headers, addsOnly);

            Edit(data, headers, Edits(headers));
        }
    }

    /// <summary>A first "field" that is only continuation lines (white space before any field), or null.</summary>
    private static HeaderField? Orphan(MessageHeaders headers) =>
        headers.Fields.FirstOrDefault() is { Name.Length: 0 } top && top.Raw.Span[0] is (byte)' ' or (byte)'\t' ? top : null;

    private static HeaderEdits Edits(MessageHeaders headers)
    {
        var edits = new HeaderEdits();
        edits.Add("X-Fuzz-Added", "yes");
        edits.AddOnTop("X-Fuzz-Top", "folded\r\n\tvalue");
        var occurrences = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        int index = 0;
        foreach (HeaderField f in headers.Fields)
        {
            if (f.Name.Length == 0)
            {
                continue;
            }
            int n = occurrences[f.Name] = occurrences.GetValueOrDefault(f.Name) + 1;
            switch (index++ % 3)
            {
                case 0:
                    edits.Remove(f.Name, n);
                    break;
                case 1:
                    // A value built from received text, as the Authentication-Results header.from is.
                    string from = headers.Fields.FirstOrDefault(x => x.Name.Length > 0)?.Value ?? string.Empty;
                    edits.Change(f.Name, n, "changed; from=" + from);
                    break;
            }
        }
        edits.Remove("X-Not-There", 1);
        edits.Change("X-Not-There", 2, "nothing");
        if (headers.Fields.FirstOrDefault(f => f.Name.Length > 0) is HeaderField first)
        {
            edits.RemoveWhere(headers, first.Name, f => f.Raw.Length % 2 == 0);
            edits.Change(first.Name, 1000, "no such occurrence");
        }
        return edits;
    }

    private static void Edit(byte[] data, MessageHeaders headers, HeaderEdits edits)
    {
        byte[] prefix = OutgoingMessage.BuildPrefix(headers, edits, out long copyFrom);
        bool inPlace = edits.Any(e => e is not HeaderEdit.Add);
        FuzzInvariantException.Check(!inPlace || copyFrom == headers.SectionLength, "in-place edits copy from somewhere other than the section end");
        byte[] output = [.. prefix, .. data.AsSpan((int)copyFrom)];
        _ = edits.Apply(headers);

        // What must leave: the added fields, then each received field kept, changed or dropped, in order. A leading
        // continuation line (white space before any field) goes first, or it would fold into the last added field.
        var expected = new List<byte[]>();
        HeaderField? orphan = Orphan(headers);
        if (orphan is not null)
        {
            expected.Add(orphan.Raw.ToArray());
        }
        foreach (HeaderEdit e in edits)
        {
            if (e is HeaderEdit.Add a)
            {
                expected.Add(OutgoingMessage.FormatField(a.Name, a.Value));
            }
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
                expected.Add(f.Raw.ToArray());
                continue;
            }
            int n = counts[f.Name] = counts.GetValueOrDefault(f.Name) + 1;
            HeaderEdit? last = edits.LastOrDefault(e => (e is HeaderEdit.Remove r && r.Occurrence == n && f.Is(r.Name)) || (e is HeaderEdit.Change c && c.Occurrence == n && f.Is(c.Name)));
            if (last is HeaderEdit.Change c)
            {
                expected.Add(OutgoingMessage.FormatField(f.Name, c.Value));
            }
            else if (last is null)
            {
                expected.Add(f.Raw.ToArray());
            }
        }
        if (!inPlace)
        {
            // Additions only: the received fields after the leading lines follow verbatim, as they are.
            expected.RemoveRange(expected.Count - headers.Fields.Count(f => !ReferenceEquals(f, orphan)), headers.Fields.Count(f => !ReferenceEquals(f, orphan)));
            expected.AddRange(HeaderSectionReader.Read(data.AsMemory((int)copyFrom), copyFrom, out _, out _).Select(f => f.Raw.ToArray()));
        }

        // Then the fields after the parsed section, exactly as a parser sees them in the received message.
        List<HeaderField> all = HeaderSectionReader.Read(data, 0, out _, out _);
        if (inPlace)
        {
            foreach (HeaderField f in all.Where(f => f.Offset >= headers.SectionLength))
            {
                expected.Add(f.Raw.ToArray());
            }
        }

        // Known limit: a leading run of continuation lines longer than the header cap cannot be moved above the
        // added fields (it is not in memory); mail from Postfix never starts with one (its Received: comes first).
        bool longOrphan = all.Count > 0 && all[0].Name.Length == 0 && all[0].Raw.Span[0] is (byte)' ' or (byte)'\t' && all[0].Raw.Length > headers.SectionLength;
        FuzzInvariantException.Check(output.AsSpan().EndsWith(data.AsSpan(headers.SectionLength)), "bytes after the header section changed");
        if (longOrphan)
        {
            return;
        }
        List<HeaderField> sent = HeaderSectionReader.Read(output, 0, out _, out _);
        FuzzInvariantException.Check(sent.Count == expected.Count, $"the sent message has {sent.Count} header fields, {expected.Count} expected");
        for (int i = 0; i < expected.Count; i++)
        {
            FuzzInvariantException.Check(sent[i].Raw.Span.SequenceEqual(expected[i]), $"sent header field {i} is not what the edits say (a received field was cut or joined)");
        }
    }
}
