using ContentFilter.Protocols.Mime;

namespace ContentFilter.Pipeline.Messages;

/// <summary>The bytes of one message while it is checked: in memory while small, then in a 0600 spool file.</summary>
/// <remarks>
/// Memory does not grow with message size: past <see cref="SpoolOptions.InMemoryThreshold"/> the buffer moves to a
/// file, and later bytes reach it through that same buffer in large writes. Readers get independent streams (<see cref="OpenRead"/>), so
/// clamd, spamd and DKIM can read concurrently. The file is deleted on dispose, which the front doors do only after
/// the upstream reply (FILTER_README: Postfix keeps its copy until our 2xx, so nothing is lost if we crash first).
/// Bytes are stored exactly as the message is (SMTP dot-stuffing already removed); line ends are not touched.
/// </remarks>
public sealed class MessageSpool : IAsyncDisposable, IDisposable
{
    private readonly SpoolOptions _options;
    private readonly string _id;
    private byte[] _buffer;
    private int _bufferLength;
    private FileStream? _file;
    private string? _path;
    private HeaderEndDetector _headerEnd = HeaderEndDetector.Create();
    private bool _completed;
    private bool _disposed;

    /// <summary>Creates an empty spool for the message <paramref name="id"/> (its mail_id).</summary>
    public MessageSpool(SpoolOptions options, string id)
    {
        _options = options;
        _id = id;
        // Uninitialised: only bytes written are ever read, so zeroing 16 KiB per message would be wasted work.
        _buffer = GC.AllocateUninitializedArray<byte>(Math.Min(16 * 1024, Math.Max(1024, options.InMemoryThreshold)));
    }

    /// <summary>Total bytes written.</summary>
    public long Length { get; private set; }

    /// <summary>Offset of the first body byte (after the empty line); <see cref="Length"/> when there is no body.</summary>
    public long BodyOffset => _headerEnd.Found ? _headerEnd.BodyOffset : Length;

    /// <summary>True when the message had an empty line separating header and body.</summary>
    public bool HasBody => _headerEnd.Found;

    /// <summary>The spool file, or <c>null</c> while the message is in memory.</summary>
    public string? FilePath => _path;

    /// <summary>True once <see cref="CompleteAsync"/> ran: the content is final and may be read.</summary>
    public bool IsCompleted => _completed;

    /// <summary>Appends bytes.</summary>
    /// <remarks>
    /// Once the message lives in a file, writes still collect in the buffer and reach the file
    /// <see cref="FileChunk"/> bytes at a time: every file write is a hop to a thread-pool thread (file I/O has no
    /// readiness notification on Linux), so a 1 MB message costs 4 of them instead of 16.
    /// </remarks>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ThrowIfNotWritable();
        _headerEnd.Feed(data.Span);
        Length += data.Length;
        if (_file is not null)
        {
            return WriteThroughAsync(data, cancellationToken); // completes at once, without allocating, while it only buffers
        }
        if (_bufferLength + data.Length <= _options.InMemoryThreshold)
        {
            EnsureCapacity(_bufferLength + data.Length);
            data.Span.CopyTo(_buffer.AsSpan(_bufferLength));
            _bufferLength += data.Length;
            return ValueTask.CompletedTask;
        }
        return MoveToFileAndWriteAsync(data, cancellationToken);
    }

    /// <summary>Bytes collected before one write to the spool file: the in-memory threshold, within 64 KiB .. 1 MiB.</summary>
    private int FileChunk => Math.Clamp(_options.InMemoryThreshold, 64 * 1024, 1024 * 1024);

    /// <summary>Marks the content final: flushes (and fsyncs when configured) the spool file.</summary>
    public async ValueTask CompleteAsync(CancellationToken cancellationToken)
    {
        ThrowIfNotWritable();
        if (_file is not null)
        {
            await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (_options.Fsync)
            {
                _file.Flush(flushToDisk: true);
            }
        }
        _completed = true;
    }

    /// <summary>Opens an independent read stream over the whole message.</summary>
    public Stream OpenRead()
    {
        if (!_completed)
        {
            throw new InvalidOperationException("The spool is still being written.");
        }
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_path is null)
        {
            return new MemoryStream(_buffer, 0, _bufferLength, writable: false);
        }
        return new FileStream(_path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0,
            Options = FileOptions.SequentialScan,
        });
    }

    /// <summary>Reads up to <paramref name="maxBytes"/> of the header section (without the empty line) and parses it.</summary>
    /// <remarks>
    /// A header section longer than the cap is parsed up to the cap; the rest is left for the verbatim copy. A field
    /// that may go on past what was parsed (the next line is a continuation line, or unknown because the cap ended
    /// there) is left out too: editing it in place would leave its continuation lines behind, folded into the field
    /// before it (found by scripts/fuzz, header-edit target).
    /// </remarks>
    public MessageHeaders ReadHeaders(int maxBytes)
    {
        long sectionLength = Math.Min(BodyOffset, maxBytes);
        // One byte more than the section when there is more: it tells whether the next line continues the last field.
        var bytes = new byte[sectionLength < Length ? sectionLength + 1 : sectionLength];
        using (Stream s = OpenRead())
        {
            s.ReadExactly(bytes);
        }
        List<HeaderField> fields = HeaderSectionReader.Read(bytes.AsMemory(0, (int)sectionLength), 0, out int consumed, out bool complete);
        if (!complete && consumed < Length && fields.Count > 0 && (consumed >= bytes.Length || bytes[consumed] is (byte)' ' or (byte)'\t'))
        {
            consumed = (int)fields[^1].Offset;
            fields.RemoveAt(fields.Count - 1);
        }
        return new MessageHeaders(fields, consumed, truncated: BodyOffset > maxBytes);
    }

    private async ValueTask MoveToFileAndWriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(_options.Directory);
        _path = Path.Combine(_options.Directory, _id + ".eml");
        var fso = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.Read | FileShare.Delete,
            BufferSize = 0, // our buffer collects the writes (see WriteAsync)
            Options = FileOptions.Asynchronous,
        };
        if (!OperatingSystem.IsWindows())
        {
            fso.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        _file = new FileStream(_path, fso);
        if (_buffer.Length < FileChunk)
        {
            await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
            _buffer = GC.AllocateUninitializedArray<byte>(FileChunk);
        }
        await WriteThroughAsync(data, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Empties the buffer into the file, then writes <paramref name="data"/> straight or buffers it.</summary>
    private async ValueTask WriteThroughAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (_bufferLength + data.Length <= _buffer.Length)
        {
            data.Span.CopyTo(_buffer.AsSpan(_bufferLength));
            _bufferLength += data.Length;
            return;
        }
        await FlushBufferAsync(cancellationToken).ConfigureAwait(false);
        if (data.Length >= _buffer.Length)
        {
            await _file!.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            return;
        }
        data.Span.CopyTo(_buffer);
        _bufferLength = data.Length;
    }

    private async ValueTask FlushBufferAsync(CancellationToken cancellationToken)
    {
        if (_bufferLength > 0)
        {
            int n = _bufferLength;
            _bufferLength = 0; // a failed write (disk full) is not retried: the message is answered 4xx
            await _file!.WriteAsync(_buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (needed <= _buffer.Length)
        {
            return;
        }
        int size = Math.Min(Math.Max(needed, _buffer.Length * 2), _options.InMemoryThreshold);
        byte[] larger = GC.AllocateUninitializedArray<byte>(size);
        _buffer.AsSpan(0, _bufferLength).CopyTo(larger);
        _buffer = larger;
    }

    private void ThrowIfNotWritable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            throw new InvalidOperationException("The spool is complete.");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            _file?.Dispose();
        }
        catch (IOException)
        {
            // See DisposeAsync: bytes a full disk refused are still buffered; the file goes anyway.
        }
        finally
        {
            DeleteFile();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        try
        {
            if (_file is not null)
            {
                await _file.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
            // After a failed write (disk full) the FileStream still buffers the bytes it could not write and retries
            // them when closed, failing again. That message was already answered 4xx, and its file must go: a file
            // left here would keep the disk full until the next restart's sweep.
        }
        finally
        {
            DeleteFile();
        }
    }

    private void DeleteFile()
    {
        if (_path is not null)
        {
            try
            {
                File.Delete(_path);
            }
            catch (IOException)
            {
                // Left for the start-up sweep; Postfix still holds the message.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
