using System.Buffers;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;

namespace ContentFilter.Checks.Dkim;

/// <summary>Streams a message body through body canonicalisation (RFC 6376 §3.4.3, §3.4.4) into a hash.</summary>
/// <remarks>
/// Constant memory whatever the body size: only the count of pending empty lines and one pending white-space flag
/// are kept, because trailing empty lines are dropped only if nothing follows them. The optional length limit
/// (<c>l=</c>, §3.5) stops hashing after that many canonical octets; <see cref="CanonicalLength"/> keeps counting
/// so the verifier can tell a body shorter than <c>l=</c> (a signature that can never have been valid).
/// Speed: runs of ordinary bytes are found with a vectorised search and copied whole (together with the line ends
/// and single spaces between them that are canonical already, see <see cref="ExtendRun"/>), and the canonical output is
/// gathered in a buffer so the hash sees a few large updates rather than two per line (each update is a native call;
/// per-line updates made hashing a 10 KB body cost more than an Ed25519 signature).
/// </remarks>
public sealed class DkimBodyHasher : IDisposable
{
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();
    private static readonly byte[] Space = " "u8.ToArray();
    private static readonly SearchValues<byte> LineEndBytes = SearchValues.Create("\r\n"u8);
    private static readonly SearchValues<byte> RelaxedSpecialBytes = SearchValues.Create("\r\n \t"u8);
    private const int BufferSize = 16 * 1024;

    private readonly DkimCanonicalization _canonicalization;
    private readonly IncrementalHash _hash;
    private readonly long? _limit;
    private readonly SearchValues<byte> _special;
    private byte[]? _buffer;
    private int _buffered;
    private long _hashed;
    private long _pendingLines;
    private bool _pendingWsp;
    private bool _pendingCr;
    private bool _lineHasContent;
    private bool _anyOutput;
    private byte[]? _result;

    /// <summary>Creates a hasher.</summary>
    /// <param name="canonicalization">Body canonicalisation.</param>
    /// <param name="hashAlgorithm">SHA-256 or SHA-1.</param>
    /// <param name="limit">The <c>l=</c> value, or <c>null</c> to hash the whole body.</param>
    public DkimBodyHasher(DkimCanonicalization canonicalization, HashAlgorithmName hashAlgorithm, long? limit)
    {
        _canonicalization = canonicalization;
        _hash = IncrementalHash.CreateHash(hashAlgorithm);
        _limit = limit;
        // Simple keeps white space as it is, so only line ends need the slow path there.
        _special = canonicalization == DkimCanonicalization.Simple ? LineEndBytes : RelaxedSpecialBytes;
        _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    }

    /// <summary>Octets of canonical body seen so far (not capped by <c>l=</c>).</summary>
    public long CanonicalLength { get; private set; }

    /// <summary>Feeds the next body bytes.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        int i = 0;
        while (i < data.Length)
        {
            if (!_pendingCr)
            {
                // A run of ordinary content bytes is exactly Content() applied to each of them: pending empty lines
                // and the pending white space go out before its first byte, and the bytes follow as they are.
                int run = data[i..].IndexOfAny(_special);
                if (run < 0)
                {
                    run = data.Length - i;
                }
                else if (run > 0)
                {
                    run = ExtendRun(data, i, run);
                }
                if (run > 0)
                {
                    FlushPendingLines();
                    if (_pendingWsp)
                    {
                        _pendingWsp = false;
                        Emit(Space);
                    }
                    Emit(data.Slice(i, run));
                    _lineHasContent = true;
                    i += run;
                    continue;
                }
            }
            Step(data[i]);
            i++;
        }
    }

    /// <summary>
    /// Extends a run of content bytes over what is canonical already between content bytes: a CRLF with content
    /// after it (no empty line or bare LF to hold back), a lone SP with content after it when relaxed (a white-space
    /// run of one SP inside a line, or a line's leading SP). Such text is hashed as it is, so a body of words goes
    /// to the hash in one piece per read instead of one piece per word (stopping at every space and line end made
    /// hashing a 10 KB body cost as much as an Ed25519 signature).
    /// </summary>
    /// <param name="data">The bytes being written.</param>
    /// <param name="start">Where the run starts.</param>
    /// <param name="run">The run's length so far (&gt; 0, so it ends with a content byte; the next byte is special).</param>
    /// <returns>The length of the extended run; it still ends with a content byte.</returns>
    private int ExtendRun(ReadOnlySpan<byte> data, int start, int run)
    {
        bool relaxed = _canonicalization == DkimCanonicalization.Relaxed;
        int j = start + run;
        if (Vector256.IsHardwareAccelerated)
        {
            // Compares each byte with its neighbours 32 at a time; j - 1 >= start, so the previous byte is in data.
            while (j + Vector256<byte>.Count < data.Length)
            {
                uint bad = Vector256.ExtractMostSignificantBits(NotCanonicalMask(data, j, relaxed));
                if (bad != 0)
                {
                    j += BitOperations.TrailingZeroCount(bad);
                    return BackToContent(data, start + run, j) - start;
                }
                j += Vector256<byte>.Count;
            }
        }
        while (j < data.Length && !NotCanonical(data, j, relaxed))
        {
            j++;
        }
        return BackToContent(data, start + run, j) - start;
    }

    /// <summary>Whether the byte at <paramref name="j"/> (with a byte before it in <paramref name="data"/>) cannot be hashed as it is.</summary>
    /// <remarks>The scalar form of the vector test: the last byte of <paramref name="data"/> is not known yet unless it is content.</remarks>
    private static bool NotCanonical(ReadOnlySpan<byte> data, int j, bool relaxed)
    {
        byte b = data[j];
        if (b is not ((byte)'\r' or (byte)'\n') && (!relaxed || b is not ((byte)' ' or (byte)'\t')))
        {
            return false;
        }
        if (j + 1 >= data.Length)
        {
            return true;
        }
        byte next = data[j + 1];
        return b switch
        {
            (byte)'\t' => true,
            (byte)' ' => next is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n',
            (byte)'\r' => next != (byte)'\n',
            _ => data[j - 1] != (byte)'\r' || next is (byte)'\r' or (byte)'\n',
        };
    }

    private static Vector256<byte> NotCanonicalMask(ReadOnlySpan<byte> data, int j, bool relaxed)
    {
        Vector256<byte> cur = Vector256.Create(data.Slice(j, Vector256<byte>.Count));
        Vector256<byte> next = Vector256.Create(data.Slice(j + 1, Vector256<byte>.Count));
        Vector256<byte> prev = Vector256.Create(data.Slice(j - 1, Vector256<byte>.Count));
        Vector256<byte> cr = Vector256.Create((byte)'\r');
        Vector256<byte> lf = Vector256.Create((byte)'\n');
        Vector256<byte> sp = Vector256.Create((byte)' ');
        Vector256<byte> tab = Vector256.Create((byte)'\t');
        Vector256<byte> nextLineEnd = Vector256.Equals(next, cr) | Vector256.Equals(next, lf);
        Vector256<byte> bad = (Vector256.Equals(cur, cr) & ~Vector256.Equals(next, lf))
            | (Vector256.Equals(cur, lf) & (~Vector256.Equals(prev, cr) | nextLineEnd));
        if (relaxed)
        {
            Vector256<byte> nextWsp = Vector256.Equals(next, sp) | Vector256.Equals(next, tab);
            bad |= Vector256.Equals(cur, tab) | (Vector256.Equals(cur, sp) & (nextWsp | nextLineEnd));
        }
        return bad;
    }

    /// <summary>Moves <paramref name="end"/> back over special bytes (the CR of a CRLF, a SP) to just after a content byte, not before <paramref name="min"/>.</summary>
    private int BackToContent(ReadOnlySpan<byte> data, int min, int end)
    {
        while (end > min && _special.Contains(data[end - 1]))
        {
            end--;
        }
        return end;
    }

    /// <summary>Ends the body and returns the hash (the <c>bh=</c> value, decoded).</summary>
    public byte[] Complete()
    {
        if (_result is not null)
        {
            return _result;
        }
        if (_pendingCr)
        {
            _pendingCr = false;
            Content((byte)'\r');
        }
        if (_lineHasContent)
        {
            // A last line without CRLF gets one (both algorithms); relaxed drops its trailing white space.
            _pendingWsp = false;
            Emit(Crlf);
            _lineHasContent = false;
        }
        if (_canonicalization == DkimCanonicalization.Simple && !_anyOutput)
        {
            // §3.4.3: an empty body (or only empty lines) is a single CRLF.
            Emit(Crlf);
        }
        Flush();
        _result = _hash.GetHashAndReset();
        return _result;
    }

    private void Step(byte b)
    {
        if (_pendingCr)
        {
            _pendingCr = false;
            if (b == (byte)'\n')
            {
                EndLine();
                return;
            }
            Content((byte)'\r');
        }
        switch (b)
        {
            case (byte)'\r':
                _pendingCr = true;
                return;
            case (byte)'\n':
                EndLine(); // a bare LF is read as a line end, as after any SMTP hop
                return;
            case (byte)' ' or (byte)'\t' when _canonicalization == DkimCanonicalization.Relaxed:
                _pendingWsp = true;
                return;
            default:
                Content(b);
                return;
        }
    }

    private void Content(byte b)
    {
        FlushPendingLines();
        if (_pendingWsp)
        {
            // Relaxed: a run of white space inside a line (or at its start) becomes one SP.
            _pendingWsp = false;
            Emit(Space);
        }
        Emit([b]);
        _lineHasContent = true;
    }

    private void EndLine()
    {
        _pendingWsp = false; // relaxed: white space at the end of a line is ignored
        if (_lineHasContent)
        {
            Emit(Crlf);
            _lineHasContent = false;
        }
        else
        {
            _pendingLines++;
        }
    }

    private void FlushPendingLines()
    {
        while (_pendingLines > 0)
        {
            _pendingLines--;
            Emit(Crlf);
        }
    }

    private void Emit(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0)
        {
            return;
        }
        _anyOutput = true;
        CanonicalLength += bytes.Length;
        if (_limit is long limit)
        {
            long room = limit - _hashed;
            if (room <= 0)
            {
                return;
            }
            if (bytes.Length > room)
            {
                bytes = bytes[..(int)room];
            }
        }
        _hashed += bytes.Length;
        byte[] buffer = _buffer ?? throw new ObjectDisposedException(nameof(DkimBodyHasher));
        if (_buffered + bytes.Length > buffer.Length)
        {
            Flush();
            if (bytes.Length >= buffer.Length)
            {
                _hash.AppendData(bytes);
                return;
            }
        }
        bytes.CopyTo(buffer.AsSpan(_buffered));
        _buffered += bytes.Length;
    }

    private void Flush()
    {
        if (_buffered > 0)
        {
            _hash.AppendData(_buffer.AsSpan(0, _buffered));
            _buffered = 0;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _hash.Dispose();
        if (_buffer is byte[] buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
