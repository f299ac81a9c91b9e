using System.IO.Compression;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace ContentFilter.Checks.Banned;

/// <summary>The <c>banned</c> check: attachment names, declared types, executable content and names inside zips.</summary>
/// <remarks>
/// <para>MIME is parsed by MimeKit straight from the spool stream in persistent mode, so part bodies are not copied;
/// only zip archives are decoded, into a buffer bounded by <see cref="BannedContentOptions.MaxArchiveBytes"/> that is
/// shared by the whole message (a zip bomb or a zip that contains itself ends at that limit or at
/// <see cref="BannedContentOptions.MaxArchiveDepth"/>). Names come from <c>Content-Disposition: filename</c> and
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
            var parser = new MimeParser(new ParserOptions { MaxMimeDepth = _options.MaxMimeDepth }, stream, MimeFormat.Entity, persistent: true);
            MimeMessage message = await parser.ParseMessageAsync(cancellationToken).ConfigureAwait(false);
            Walk(message.Body, 0, state, cancellationToken);
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

    private void Walk(MimeEntity? entity, int depth, ScanState state, CancellationToken cancellationToken)
    {
        if (entity is null)
        {
            return;
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (++state.Parts > _options.MaxParts)
        {
            state.Notes.Add($"more than {_options.MaxParts} MIME parts; rest not inspected");
            return;
        }
        if (depth > _options.MaxMimeDepth)
        {
            state.Notes.Add($"MIME nesting deeper than {_options.MaxMimeDepth}; not inspected");
            return;
        }
        switch (entity)
        {
            case Multipart multipart:
                foreach (MimeEntity child in multipart)
                {
                    Walk(child, depth + 1, state, cancellationToken);
                }
                break;
            case MessagePart { Message: not null } rfc822:
                Walk(rfc822.Message.Body, depth + 1, state, cancellationToken);
                break;
            case MimePart part:
                InspectPart(part, state, cancellationToken);
                break;
        }
    }

    private void InspectPart(MimePart part, ScanState state, CancellationToken cancellationToken)
    {
        string? fileName = part.FileName;
        string shown = string.IsNullOrEmpty(fileName) ? $"part {state.Parts} ({part.ContentType.MimeType})" : fileName;
        string? reason = _rules.CheckName(fileName) ?? _rules.CheckType(part.ContentType.MimeType);
        if (reason is not null)
        {
            state.Offending.Add((shown, reason));
        }

        bool isZip = IsZip(fileName, part.ContentType.MimeType);
        if (part.Content is null || (!_options.DetectExecutables && !(isZip && _options.InspectArchives)))
        {
            return;
        }

        // Decode only as much as needed: two bytes for the executable test, a bounded buffer for a zip.
        using Stream decoded = part.Content.Open();
        if (!isZip || !_options.InspectArchives)
        {
            if (reason is null && _options.DetectExecutables && StartsWithMz(decoded))
            {
                state.Offending.Add((shown, "executable content (MZ header)"));
            }
            return;
        }
        MemoryStream? archive = ReadBounded(decoded, state, shown);
        if (archive is null)
        {
            return;
        }
        if (reason is null && _options.DetectExecutables && StartsWithMz(archive))
        {
            state.Offending.Add((shown, "executable content (MZ header)"));
        }
        archive.Position = 0;
        InspectZip(archive, shown, 1, state, cancellationToken);
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
