using System.IO.Compression;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Logging;
using MimeKit;
using MimeKit.IO;
using MimeKit.IO.Filters;
using MimeKit.Utils;

namespace ContentFilter.Checks.Banned;

/// <summary>The <c>banned</c> check: attachment names, declared types, executable content and names inside zips.</summary>
/// <remarks>
/// <para>MIME is read as a stream of events by MimeKit's <see cref="MimeReader"/> straight from the spool: no MIME
/// tree is built, so memory stays flat however many parts or header bytes a message has, and reading stops at
/// <see cref="BannedContentOptions.MaxParts"/>. Of each part only the type, the name and, where needed, the first two
/// decoded bytes are kept; only zip archives are decoded whole, into a buffer bounded by
/// <see cref="BannedContentOptions.MaxArchiveBytes"/> that is shared by the whole message (a zip bomb or a zip that
/// contains itself ends at that limit or at <see cref="BannedContentOptions.MaxArchiveDepth"/>). Names come from <c>Content-Disposition: filename</c> and
/// <c>Content-Type: name</c>, RFC 2231 and RFC 2047 decoded by MimeKit.</para>
/// <para>Malformed input never throws past this check: a parse failure becomes a Skipped result with the reason,
/// and a limit reached is noted in <see cref="CheckResult.Detail"/>. Offending names are listed amavis style:
/// <c>invoice.pdf.exe</c>, or <c>x.zip/run.exe</c> for archive members.</para>
/// </remarks>
public sealed partial class BannedContentCheck : ICheck
{
    private readonly BannedContentOptions _options;
    private readonly BannedNameRules _rules;
    private readonly ILogger _logger;

    /// <summary>Creates the check.</summary>
    public BannedContentCheck(BannedContentOptions options, ILogger<BannedContentCheck> logger)
    {
        _options = options;
        _rules = new BannedNameRules(options);
        _logger = logger;
    }

    /// <inheritdoc />
    public string Name => VerdictPolicy.Banned;

    /// <inheritdoc />
    public async ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        await using Stream stream = context.Spool.OpenRead();
        var state = new ScanState();
        try
        {
            var reader = new PartReader(this, state, stream);
            await reader.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PartLimitReached)
        {
            state.Notes.Add($"more than {_options.MaxParts} MIME parts; rest not inspected");
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex) when (ex is FormatException or IOException or InvalidDataException or ArgumentException or NotSupportedException or InvalidOperationException)
        {
            Log.Unparsable(_logger, context.MailId, ex.Message);
            if (state.Offending.Count == 0)
            {
                return new BannedContentResult { Check = Name, Status = CheckStatus.Skipped, Detail = "MIME not parsable: " + ex.Message };
            }
            state.Notes.Add("MIME parse stopped: " + ex.Message);
        }

        string? notes = state.Notes.Count == 0 ? null : string.Join("; ", state.Notes.Distinct());
        if (state.Offending.Count == 0)
        {
            return new BannedContentResult { Check = Name, Status = CheckStatus.Ok, Detail = notes };
        }
        return new BannedContentResult
        {
            Check = Name,
            Status = CheckStatus.Hit,
            Offending = state.Offending.Select(o => o.Name).ToList(),
            Detail = string.Join(", ", state.Offending.Select(o => $"{o.Name}: {o.Reason}")) + (notes is null ? string.Empty : " (" + notes + ")"),
        };
    }

    /// <summary>Checks a part's name and declared type; says what of its content must be seen.</summary>
    private Leaf BeginLeaf(ContentType contentType, Header? disposition, Header? transferEncoding, ScanState state)
    {
        string? fileName = null;
        if (disposition is not null && ContentDisposition.TryParse(ParserOptions.Default, disposition.RawValue, out ContentDisposition? parsed))
        {
            fileName = parsed.FileName;
        }
        fileName ??= contentType.Name;
        string mimeType = contentType.MimeType;
        string shown = string.IsNullOrEmpty(fileName) ? $"part {state.Parts} ({mimeType})" : fileName;
        string? reason = _rules.CheckName(fileName) ?? _rules.CheckType(mimeType);
        if (reason is not null)
        {
            state.Offending.Add((shown, reason));
        }
        bool isZip = IsZip(fileName, mimeType) && _options.InspectArchives;
        bool wantsHead = _options.DetectExecutables && (reason is null || isZip);
        if (!isZip && !wantsHead)
        {
            return new Leaf(shown, reason, null, isZip: false, wantsHead: false);
        }
        ContentEncoding encoding = ContentEncoding.Default;
        if (transferEncoding is not null)
        {
            MimeUtils.TryParse(transferEncoding.Value, out encoding);
        }
        IMimeFilter? decoder = encoding is ContentEncoding.Base64 or ContentEncoding.QuotedPrintable or ContentEncoding.UUEncode
            ? DecoderFilter.Create(encoding)
            : null;
        return new Leaf(shown, reason, decoder, isZip, wantsHead);
    }

    /// <summary>Takes raw (encoded) content bytes of the current part.</summary>
    private void LeafContent(Leaf leaf, byte[] raw, int start, int count, ScanState state)
    {
        if (leaf.Done)
        {
            return;
        }
        byte[] data = raw;
        int index = start;
        int length = count;
        if (leaf.Decoder is not null)
        {
            data = leaf.Decoder.Filter(raw, start, count, out index, out length);
        }
        LeafDecoded(leaf, data.AsSpan(index, length), state);
    }

    private void LeafDecoded(Leaf leaf, ReadOnlySpan<byte> decoded, ScanState state)
    {
        if (decoded.IsEmpty || leaf.Done)
        {
            return;
        }
        if (!leaf.IsZip)
        {
            // Only the first two bytes matter (MZ); the rest of the part is not even decoded.
            while (leaf.HeadLength < 2 && !decoded.IsEmpty)
            {
                leaf.Head[leaf.HeadLength++] = decoded[0];
                decoded = decoded[1..];
            }
            leaf.Done = leaf.HeadLength == 2;
            return;
        }
        state.ArchiveBytes += decoded.Length;
        if (state.ArchiveBytes > _options.MaxArchiveBytes)
        {
            state.Notes.Add($"{leaf.Shown}: archive byte budget of {_options.MaxArchiveBytes} used up; not inspected further");
            leaf.Archive = null;
            leaf.Done = true;
            return;
        }
        (leaf.Archive ??= new MemoryStream()).Write(decoded);
    }

    /// <summary>The part's content ended: the executable test and the archive walk.</summary>
    private void EndLeaf(Leaf leaf, ScanState state, CancellationToken cancellationToken)
    {
        if (leaf.Decoder is not null && !leaf.Done)
        {
            byte[] rest = leaf.Decoder.Flush([], 0, 0, out int index, out int length);
            LeafDecoded(leaf, rest.AsSpan(index, length), state);
        }
        if (!leaf.IsZip)
        {
            if (leaf.WantsHead && leaf.HeadLength == 2 && leaf.Head[0] == (byte)'M' && leaf.Head[1] == (byte)'Z')
            {
                state.Offending.Add((leaf.Shown, "executable content (MZ header)"));
            }
            return;
        }
        if (leaf.Archive is not { } archive || leaf.Done)
        {
            return;
        }
        archive.Position = 0;
        if (leaf.Reason is null && _options.DetectExecutables && StartsWithMz(archive))
        {
            state.Offending.Add((leaf.Shown, "executable content (MZ header)"));
        }
        archive.Position = 0;
        InspectZip(archive, leaf.Shown, 1, state, cancellationToken);
    }

    private void InspectZip(MemoryStream data, string path, int depth, ScanState state, CancellationToken cancellationToken)
    {
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(data, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException ex)
        {
            state.Notes.Add($"{path}: not a readable zip ({ex.Message})");
            return;
        }
        using (zip)
        {
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (++state.ArchiveEntries > _options.MaxArchiveEntries)
                {
                    state.Notes.Add($"more than {_options.MaxArchiveEntries} archive entries; rest not inspected");
                    return;
                }
                string entryPath = path + "/" + entry.FullName;
                string? reason = _rules.CheckName(entry.FullName);
                if (reason is not null)
                {
                    state.Offending.Add((entryPath, reason));
                    continue;
                }
                bool nested = IsZip(entry.FullName, null);
                if (!nested && !_options.DetectExecutables)
                {
                    continue;
                }
                if (nested && depth >= _options.MaxArchiveDepth)
                {
                    state.Notes.Add($"{entryPath}: archives nested deeper than {_options.MaxArchiveDepth}; not opened");
                    continue;
                }
                try
                {
                    using Stream entryStream = entry.Open();
                    if (!nested)
                    {
                        if (StartsWithMz(entryStream))
                        {
                            state.Offending.Add((entryPath, "executable content (MZ header)"));
                        }
                        continue;
                    }
                    MemoryStream? inner = ReadBounded(entryStream, state, entryPath);
                    if (inner is not null)
                    {
                        InspectZip(inner, entryPath, depth + 1, state, cancellationToken);
                    }
                }
                catch (Exception ex) when (ex is InvalidDataException or IOException or NotSupportedException)
                {
                    // Encrypted or corrupt member: its name was checked; its content cannot be.
                    state.Notes.Add($"{entryPath}: not readable ({ex.Message})");
                }
            }
        }
    }

    /// <summary>Copies <paramref name="source"/> into memory while the per-message byte budget lasts; null when it ran out.</summary>
    private MemoryStream? ReadBounded(Stream source, ScanState state, string path)
    {
        var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int n;
        while ((n = source.Read(chunk, 0, chunk.Length)) > 0)
        {
            state.ArchiveBytes += n;
            if (state.ArchiveBytes > _options.MaxArchiveBytes)
            {
                state.Notes.Add($"{path}: archive byte budget of {_options.MaxArchiveBytes} used up; not inspected further");
                return null;
            }
            buffer.Write(chunk, 0, n);
        }
        buffer.Position = 0;
        return buffer;
    }

    private static bool StartsWithMz(Stream s)
    {
        Span<byte> head = stackalloc byte[2];
        int got = 0;
        int n;
        while (got < 2 && (n = s.Read(head[got..])) > 0)
        {
            got += n;
        }
        return got == 2 && head[0] == (byte)'M' && head[1] == (byte)'Z';
    }

    private static bool IsZip(string? fileName, string? mimeType) =>
        (fileName is not null && BannedNameRules.Normalize(fileName).EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
        || string.Equals(mimeType, "application/zip", StringComparison.OrdinalIgnoreCase)
        || string.Equals(mimeType, "application/x-zip-compressed", StringComparison.OrdinalIgnoreCase);

    /// <summary>What is being learnt about the leaf part being read.</summary>
    private sealed class Leaf(string shown, string? reason, IMimeFilter? decoder, bool isZip, bool wantsHead)
    {
        public string Shown { get; } = shown;

        public string? Reason { get; } = reason;

        public IMimeFilter? Decoder { get; } = decoder;

        public bool IsZip { get; } = isZip;

        public bool WantsHead { get; } = wantsHead;

        public byte[] Head { get; } = new byte[2];

        public int HeadLength { get; set; }

        public MemoryStream? Archive { get; set; }

        /// <summary>Nothing more of this part's content is needed.</summary>
        public bool Done { get; set; } = !isZip && !wantsHead;
    }

    /// <summary>Ends reading at <see cref="BannedContentOptions.MaxParts"/>.</summary>
    private sealed class PartLimitReached : Exception
    {
    }

    /// <summary>MimeKit's event reader: keeps the last header block's Content-Disposition and -Transfer-Encoding and hands each part to the check.</summary>
    private sealed class PartReader(BannedContentCheck check, ScanState state, Stream stream)
        : MimeReader(new ParserOptions { MaxMimeDepth = check._options.MaxMimeDepth }, stream, MimeFormat.Entity)
    {
        private Header? _disposition;
        private Header? _transferEncoding;
        private Leaf? _leaf;
        private int _depth;

        protected override void OnHeadersBegin(long beginOffset, int beginLineNumber, CancellationToken cancellationToken)
        {
            _disposition = null;
            _transferEncoding = null;
        }

        protected override void OnHeaderRead(Header header, int beginLineNumber, CancellationToken cancellationToken)
        {
            if (header.Id == HeaderId.ContentDisposition)
            {
                _disposition = header;
            }
            else if (header.Id == HeaderId.ContentTransferEncoding)
            {
                _transferEncoding = header;
            }
        }

        protected override void OnMultipartBegin(ContentType contentType, long beginOffset, int beginLineNumber, CancellationToken cancellationToken)
        {
            Count(cancellationToken);
            _depth++;
        }

        protected override void OnMultipartEnd(ContentType contentType, long beginOffset, int beginLineNumber, long headersEndOffset, long endOffset, int lines, CancellationToken cancellationToken) =>
            _depth--;

        protected override void OnMessagePartBegin(ContentType contentType, long beginOffset, int beginLineNumber, CancellationToken cancellationToken)
        {
            Count(cancellationToken);
            _depth++;
        }

        protected override void OnMessagePartEnd(ContentType contentType, long beginOffset, int beginLineNumber, long headersEndOffset, long endOffset, int lines, CancellationToken cancellationToken) =>
            _depth--;

        protected override void OnMimePartBegin(ContentType contentType, long beginOffset, int beginLineNumber, CancellationToken cancellationToken)
        {
            Count(cancellationToken);
            if (_depth > check._options.MaxMimeDepth)
            {
                state.Notes.Add($"MIME nesting deeper than {check._options.MaxMimeDepth}; not inspected");
                _leaf = null;
                return;
            }
            _leaf = check.BeginLeaf(contentType, _disposition, _transferEncoding, state);
        }

        protected override void OnMimePartContentRead(byte[] content, int startIndex, int count, CancellationToken cancellationToken)
        {
            if (_leaf is { Done: false } leaf)
            {
                check.LeafContent(leaf, content, startIndex, count, state);
            }
        }

        protected override void OnMimePartEnd(ContentType contentType, long beginOffset, int beginLineNumber, long headersEndOffset, long endOffset, int lines, CancellationToken cancellationToken)
        {
            if (_leaf is { } leaf)
            {
                _leaf = null;
                check.EndLeaf(leaf, state, cancellationToken);
            }
        }

        private void Count(CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (++state.Parts > check._options.MaxParts)
            {
                throw new PartLimitReached();
            }
        }
    }

    private sealed class ScanState
    {
        public List<(string Name, string Reason)> Offending { get; } = new();

        public List<string> Notes { get; } = new();

        public int Parts { get; set; }

        public int ArchiveEntries { get; set; }

        public long ArchiveBytes { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4301, Level = LogLevel.Information, Message = "banned: MIME of {MailId} not parsable: {Reason}")]
        public static partial void Unparsable(ILogger logger, string mailId, string reason);
    }
}
