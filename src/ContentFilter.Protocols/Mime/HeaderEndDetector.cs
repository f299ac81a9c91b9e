namespace ContentFilter.Protocols.Mime;

/// <summary>Finds where the header section ends in a message that arrives in pieces.</summary>
/// <remarks>
/// The body starts after the first empty line (RFC 5322 §2.1). Both CRLF CRLF and bare LF LF count, because
/// Postfix and real mail produce both; a line holding only CRs before its LF (<c>CR CR LF</c>) is not empty.
/// Feed every chunk in order; <see cref="BodyOffset"/> is set once found. It agrees with
/// <see cref="HeaderSectionReader"/> on every input (a fuzz invariant): a field that one took for a header and the
/// other for body could slip past a check.
/// </remarks>
public struct HeaderEndDetector
{
    // 0: at line start, 1: in a line, 2: after a CR at the start of a line (empty if LF follows)
    private int _state;
    private long _position;

    /// <summary>Offset of the first body byte (just after the empty line), or -1 while unknown.</summary>
    public long BodyOffset { get; private set; }

    /// <summary>A detector at offset 0 in the state "at the start of a line".</summary>
    public static HeaderEndDetector Create() => new() { BodyOffset = -1 };

    /// <summary>True once the empty line was seen.</summary>
    public readonly bool Found => BodyOffset >= 0;

    /// <summary>Consumes the next chunk.</summary>
    public void Feed(ReadOnlySpan<byte> chunk)
    {
        if (BodyOffset >= 0)
        {
            _position += chunk.Length;
            return;
        }
        for (int i = 0; i < chunk.Length; i++)
        {
            byte b = chunk[i];
            switch (_state)
            {
                case 0:
                    if (b == (byte)'\n')
                    {
                        BodyOffset = _position + i + 1;
                        _position += chunk.Length;
                        return;
                    }
                    _state = b == (byte)'\r' ? 2 : 1;
                    break;
                case 2:
                    if (b == (byte)'\n')
                    {
                        BodyOffset = _position + i + 1;
                        _position += chunk.Length;
                        return;
                    }
                    // CR followed by anything else (another CR too) is a line holding a CR, not an empty line: the
                    // same as HeaderSectionReader, so the spool and the header parser agree on where the body starts.
                    _state = 1;
                    break;
                default:
                    if (b == (byte)'\n')
                    {
                        _state = 0;
                    }
                    break;
            }
        }
        _position += chunk.Length;
    }
}
