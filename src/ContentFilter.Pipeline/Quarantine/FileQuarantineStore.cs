using System.Text.Json;
using System.Text.Json.Serialization;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Pipeline.Quarantine;

/// <summary>A directory quarantine: <c>ID.eml</c> (the original bytes) and <c>ID.json</c> (the record), keyed by mail_id.</summary>
/// <remarks>
/// The directory is 0700 and the files 0600: quarantined mail is hostile or private. Bytes are streamed from the
/// spool (never loaded whole) into a temp name and renamed, so a crash leaves no half message under a real id. Ids
/// are checked against the mail_id alphabet before any path is built, so a crafted id cannot leave the directory.
/// </remarks>
public sealed partial class FileQuarantineStore : IQuarantineRepository
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly QuarantineOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the store (the directory is created on first use).</summary>
    public FileQuarantineStore(QuarantineOptions options, TimeProvider time, ILogger<FileQuarantineStore> logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public async Task<string> StoreAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken)
    {
        EnsureDirectory();
        string id = context.MailId;
        if (!MailId.IsValid(id))
        {
            throw new ArgumentException("mail_id has an unsafe shape", nameof(context));
        }
        var record = new QuarantineRecord
        {
            Id = id,
            Time = _time.GetUtcNow(),
            Sender = context.Envelope.MailFrom,
            MailParameters = context.Envelope.MailParameters.ToList(),
            Recipients = context.Envelope.Recipients.Select(r => new QuarantineRecipient(r.Address, r.Parameters)).ToList(),
            Category = verdict.Category,
            Names = verdict.CategoryNames,
            Score = verdict.Score,
            Action = verdict.Action.ToString(),
            Reason = verdict.Reason,
            Listener = context.Listener.Name,
            ClientAddress = context.Envelope.Client.Address?.ToString(),
            QueueId = context.Envelope.QueueId,
            MessageId = context.Headers.Get("Message-ID"),
            From = context.Headers.Get("From"),
            Subject = context.Headers.Get("Subject"),
            Size = context.Spool.Length,
        };

        string message = MessagePath(id);
        string temp = Path.Combine(_options.Directory, $".{id}.{Guid.NewGuid():N}.tmp");
        bool moved = false;
        try
        {
            await using (FileStream target = CreatePrivate(temp))
            await using (Stream source = context.Spool.OpenRead())
            {
                await source.CopyToAsync(target, 64 * 1024, cancellationToken).ConfigureAwait(false);
                await target.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            File.Move(temp, message, overwrite: true);
            moved = true;
            WriteRecord(record);
        }
        catch
        {
            // The caller answers 4xx and Postfix retries under a new mail_id: a message without its record would
            // only take space (the disk may be full already) and show up nowhere.
            File.Delete(temp);
            if (moved)
            {
                File.Delete(message);
            }
            throw;
        }
        Log.Stored(_logger, id, verdict.CategoryText);
        return id;
    }

    /// <inheritdoc />
    public IReadOnlyList<QuarantineRecord> List()
    {
        if (!Directory.Exists(_options.Directory))
        {
            return Array.Empty<QuarantineRecord>();
        }
        var records = new List<QuarantineRecord>();
        foreach (string file in Directory.EnumerateFiles(_options.Directory, "*.json"))
        {
            QuarantineRecord? r = Get(Path.GetFileNameWithoutExtension(file));
            if (r is not null)
            {
                records.Add(r);
            }
        }
        return records.OrderByDescending(r => r.Time).ToList();
    }

    /// <inheritdoc />
    public QuarantineRecord? Get(string id)
    {
        if (!MailId.IsValid(id) || !File.Exists(RecordPath(id)))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<QuarantineRecord>(File.ReadAllText(RecordPath(id)), Json);
        }
        catch (JsonException ex)
        {
            Log.BadRecord(_logger, id, ex.Message);
            return null;
        }
    }

    /// <inheritdoc />
    public Stream OpenMessage(string id)
    {
        if (!MailId.IsValid(id))
        {
            throw new FileNotFoundException("no such quarantine id", id);
        }
        return new FileStream(MessagePath(id), FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
    }

    /// <inheritdoc />
    public void Update(QuarantineRecord record) => WriteRecord(record);

    /// <inheritdoc />
    public bool Delete(string id)
    {
        if (!MailId.IsValid(id))
        {
            return false;
        }
        bool existed = File.Exists(RecordPath(id)) || File.Exists(MessagePath(id));
        File.Delete(MessagePath(id));
        File.Delete(RecordPath(id));
        return existed;
    }

    /// <summary>Deletes everything older than <see cref="QuarantineOptions.RetentionDays"/>; the host calls this
    /// periodically (e.g. hourly). Returns how many messages were deleted.</summary>
    public int PurgeExpired()
    {
        if (_options.RetentionDays <= 0 || !Directory.Exists(_options.Directory))
        {
            return 0;
        }
        DateTimeOffset cutoff = _time.GetUtcNow() - TimeSpan.FromDays(_options.RetentionDays);
        int deleted = 0;
        foreach (string file in Directory.EnumerateFiles(_options.Directory).ToList())
        {
            string name = Path.GetFileName(file);
            string id = name.Split('.')[0];
            if (name.StartsWith('.') && name.EndsWith(".tmp", StringComparison.Ordinal) && File.GetLastWriteTimeUtc(file) < cutoff.UtcDateTime)
            {
                File.Delete(file);
                continue;
            }
            if (!name.EndsWith(".eml", StringComparison.Ordinal) || !MailId.IsValid(id))
            {
                continue;
            }
            DateTimeOffset time = Get(id)?.Time ?? new DateTimeOffset(File.GetLastWriteTimeUtc(file), TimeSpan.Zero);
            if (time < cutoff && Delete(id))
            {
                deleted++;
            }
        }
        if (deleted > 0)
        {
            Log.Purged(_logger, deleted, _options.RetentionDays);
        }
        return deleted;
    }

    private void WriteRecord(QuarantineRecord record)
    {
        string temp = Path.Combine(_options.Directory, $".{record.Id}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (FileStream f = CreatePrivate(temp))
            {
                JsonSerializer.Serialize(f, record, Json);
            }
            File.Move(temp, RecordPath(record.Id), overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(_options.Directory);
            return;
        }
        Directory.CreateDirectory(_options.Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static FileStream CreatePrivate(string path)
    {
        var fso = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 64 * 1024 };
        if (!OperatingSystem.IsWindows())
        {
            fso.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        return new FileStream(path, fso);
    }

    private string MessagePath(string id) => Path.Combine(_options.Directory, id + ".eml");

    private string RecordPath(string id) => Path.Combine(_options.Directory, id + ".json");

    private static partial class Log
    {
        [LoggerMessage(EventId = 4401, Level = LogLevel.Information, Message = "Quarantined {Id}: {Category}")]
        public static partial void Stored(ILogger logger, string id, string category);

        [LoggerMessage(EventId = 4402, Level = LogLevel.Warning, Message = "Quarantine record {Id} unreadable: {Reason}")]
        public static partial void BadRecord(ILogger logger, string id, string reason);

        [LoggerMessage(EventId = 4403, Level = LogLevel.Information, Message = "Quarantine: deleted {Count} messages older than {Days} days")]
        public static partial void Purged(ILogger logger, int count, int days);
    }
}
