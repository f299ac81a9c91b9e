using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace ContentFilter.Protocols.Policy;

/// <summary>Reads policy requests: <c>name=value</c> lines ending in LF (CRLF accepted), closed by an empty line.</summary>
/// <remarks>
/// <para>SMTPD_POLICY_README and PROTOCOLS.md §5. The reader is incremental: it consumes whole lines as they arrive
/// and keeps the attributes read so far, so a caller can <c>AdvanceTo(reader.Position, buffer.End)</c> and never
/// rescans. Limits are checked before a line is decoded, so a peer that never sends a line end costs at most
/// <see cref="PolicyLimits.MaxLineLength"/> bytes.</para>
/// <para>A value is split on the first <c>=</c> only (values may contain <c>=</c>, e.g. BATV senders). Values are
/// decoded as UTF-8 (SMTPUTF8 addresses); invalid sequences become U+FFFD rather than failing, because Postfix may
/// pass 8-bit addresses from old clients. NUL and other control bytes are refused: Postfix never sends them.</para>
/// </remarks>
public sealed class PolicyRequestReader
{
    private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    // Every byte a line may not hold: controls but TAB, and DEL.
    private static readonly SearchValues<byte> Forbidden = SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 0x7F]);

    // The names Postfix sends (SMTPD_POLICY_README, Postfix 3.x), so a request does not allocate them again.
    private static readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> KnownNames = new Dictionary<string, string>(
        new[]
        {
            "request", "protocol_state", "protocol_name", "helo_name", "queue_id", "sender", "recipient", "recipient_count",
            "client_address", "client_name", "reverse_client_name", "instance", "sasl_method", "sasl_username",
            "sasl_sender", "size", "ccert_subject", "ccert_issuer", "ccert_fingerprint", "ccert_pubkey_fingerprint",
            "encryption_protocol", "encryption_cipher", "encryption_keysize", "etrn_domain", "stress", "client_port",
            "policy_context", "server_address", "server_port", "compatibility_level", "mail_version",
        }.Select(n => KeyValuePair.Create(n, n)),
        StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();

    // A request from Postfix has about 30 attributes: no rehashing while it is read.
    private const int ExpectedAttributes = 32;

    private readonly PolicyLimits _limits;
    private Dictionary<string, string> _attributes = new(ExpectedAttributes, StringComparer.Ordinal);
    private int _lines;
    private long _bytes;

    /// <summary>Creates a reader with the given limits.</summary>
    public PolicyRequestReader(PolicyLimits limits)
    {
        _limits = limits;
    }

    /// <summary>True when part of a request has been read but not its closing empty line (EOF now is a truncated request).</summary>
    public bool HasPartialRequest => _bytes > 0;

    /// <summary>Reads lines until a request is complete.</summary>
    /// <returns>True with a request; false with <see cref="PolicyError.None"/> when more input is needed; false with an error when the input is bad.</returns>
    public bool TryRead(ref SequenceReader<byte> reader, [NotNullWhen(true)] out PolicyRequest? request, out PolicyError error)
    {
        request = null;
        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n', advancePastDelimiter: true))
            {
                // Need more: but never buffer more than one line's worth or past the request cap.
                long pending = reader.Remaining;
                if (pending >= _limits.MaxLineLength)
                {
                    error = PolicyError.LineTooLong;
                    return false;
                }
                if (_bytes + pending > _limits.MaxRequestBytes)
                {
                    error = PolicyError.RequestTooLarge;
                    return false;
                }
                error = PolicyError.None;
                return false;
            }

            long length = line.Length + 1;
            if (length > _limits.MaxLineLength)
            {
                error = PolicyError.LineTooLong;
                return false;
            }
            _bytes += length;
            if (_bytes > _limits.MaxRequestBytes)
            {
                error = PolicyError.RequestTooLarge;
                return false;
            }

            if (line.Length > 0 && EndsWithCr(line))
            {
                line = line.Slice(0, line.Length - 1);
            }

            if (line.Length == 0)
            {
                if (_lines == 0)
                {
                    // An empty line before any attribute: Postfix never sends it; skip it like its own scanner does.
                    _bytes = 0;
                    continue;
                }
                request = new PolicyRequest(_attributes);
                Reset();
                error = PolicyError.None;
                return true;
            }

            if (++_lines > _limits.MaxAttributes)
            {
                error = PolicyError.TooManyAttributes;
                return false;
            }
            error = ReadAttribute(line);
            if (error != PolicyError.None)
            {
                return false;
            }
        }
    }

    /// <summary>Forgets a partial request (after an error, before the connection closes).</summary>
    public void Reset()
    {
        _attributes = new Dictionary<string, string>(ExpectedAttributes, StringComparer.Ordinal);
        _lines = 0;
        _bytes = 0;
    }

    private PolicyError ReadAttribute(ReadOnlySequence<byte> line)
    {
        byte[]? rented = null;
        int length = (int)line.Length;
        Span<byte> bytes = length <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(length));
        bytes = bytes[..length];
        line.CopyTo(bytes);
        try
        {
            if (bytes.IndexOfAny(Forbidden) >= 0)
            {
                return PolicyError.ControlCharacter;
            }
            int eq = bytes.IndexOf((byte)'=');
            if (eq < 0)
            {
                return PolicyError.MissingEquals;
            }
            if (eq == 0)
            {
                return PolicyError.EmptyName;
            }
            string name = Name(bytes[..eq]);
            string value = Utf8.GetString(bytes[(eq + 1)..]);
            _attributes[name] = value;
            return PolicyError.None;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static string Name(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= 32)
        {
            Span<char> chars = stackalloc char[32];
            if (System.Text.Ascii.ToUtf16(bytes, chars, out int written) == OperationStatus.Done
                && KnownNames.TryGetValue(chars[..written], out string? known))
            {
                return known;
            }
        }
        return Utf8.GetString(bytes);
    }

    private static bool EndsWithCr(ReadOnlySequence<byte> line)
    {
        if (line.IsSingleSegment)
        {
            return line.FirstSpan[^1] == (byte)'\r';
        }
        return line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r';
    }
}
