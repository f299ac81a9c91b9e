using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace ContentFilter.Protocols.Milter;

/// <summary>Reads MTA-to-filter packets: <c>uint32 length (big-endian, counts the command byte) | command | data</c>.</summary>
/// <remarks>
/// Pure and resumable: <c>false</c> without an error means "need more bytes" and nothing was consumed. The length is
/// checked against the cap before anything is allocated, and a zero length is an error before <c>data[0]</c> is
/// ever read (the two mistakes STYLE.md §1 records in other milter libraries).
/// </remarks>
public sealed class MilterPacketReader
{
    private readonly MilterLimits _limits;

    /// <summary>Creates a reader with <paramref name="limits"/> (default 1 MiB packets).</summary>
    public MilterPacketReader(MilterLimits? limits = null)
    {
        _limits = limits ?? MilterLimits.Default;
    }

    /// <summary>Reads one packet if it is complete.</summary>
    /// <param name="reader">The input; advanced past the packet only when one was read or an error found.</param>
    /// <param name="command">The decoded command.</param>
    /// <param name="error">Why the packet is bad; <see cref="MilterError.None"/> when fine or when more bytes are needed.</param>
    /// <returns><c>true</c> when a command was read.</returns>
    public bool TryRead(ref SequenceReader<byte> reader, out MilterCommand command, out MilterError error)
    {
        command = null!;
        SequenceReader<byte> probe = reader;
        if (!MilterFrame.TryRead(ref probe, _limits.MaxPacketSize, out byte code, out byte[] data, out error))
        {
            return false;
        }
        if (!TryDecode(code, data, out command, out error))
        {
            return false;
        }
        reader = probe;
        return true;
    }

    /// <summary>
    /// Reads the next packet only if it is a whole <c>SMFIC_BODY</c> packet, without copying its chunk:
    /// <paramref name="chunk"/> points into the input and is valid only until its owner advances past it.
    /// </summary>
    /// <param name="reader">The input; advanced past the packet only when <c>true</c> is returned.</param>
    /// <param name="chunk">The body bytes, exactly as they came.</param>
    /// <returns>
    /// <c>false</c> for anything else (another command, an incomplete or a bad packet), with nothing consumed:
    /// <see cref="TryRead"/> then reads it, or says why it is bad.
    /// </returns>
    /// <remarks>
    /// Body chunks are most of a message's bytes and go straight into the spool; a copy per chunk was a second
    /// allocation the size of the message (docs/benchmarks.md, milter).
    /// </remarks>
    public bool TryReadBody(ref SequenceReader<byte> reader, out ReadOnlySequence<byte> chunk)
    {
        chunk = ReadOnlySequence<byte>.Empty;
        SequenceReader<byte> probe = reader;
        if (!probe.TryReadBigEndian(out int _) || !probe.TryPeek(out byte code) || code != (byte)MilterCommandCode.Body)
        {
            return false;
        }
        probe = reader;
        if (!MilterFrame.TryRead(ref probe, _limits.MaxPacketSize, out code, out ReadOnlySequence<byte> data, out _))
        {
            return false;
        }
        chunk = data;
        reader = probe;
        return true;
    }

    /// <summary>Decodes the data of one packet whose command byte is <paramref name="code"/>.</summary>
    public static bool TryDecode(byte code, byte[] data, out MilterCommand command, out MilterError error)
    {
        command = null!;
        error = MilterError.None;
        ReadOnlySpan<byte> span = data;
        int pos = 0;
        switch ((MilterCommandCode)code)
        {
            case MilterCommandCode.OptNeg:
                if (span.Length != 12)
                {
                    error = MilterError.WrongSize;
                    return false;
                }
                command = new MilterCommand.OptNeg(
                    BinaryPrimitives.ReadUInt32BigEndian(span),
                    (MilterActions)BinaryPrimitives.ReadUInt32BigEndian(span[4..]),
                    (MilterProtocol)BinaryPrimitives.ReadUInt32BigEndian(span[8..]));
                return true;

            case MilterCommandCode.Macro:
            {
                if (span.Length < 1)
                {
                    error = MilterError.WrongSize;
                    return false;
                }
                var macros = new List<KeyValuePair<string, string>>();
                pos = 1;
                while (pos < span.Length)
                {
                    if (!TryReadString(span, ref pos, out string name) || !TryReadString(span, ref pos, out string value))
                    {
                        error = MilterError.MissingNul;
                        return false;
                    }
                    macros.Add(new(name, value));
                }
                command = new MilterCommand.Macro((MilterCommandCode)span[0], macros);
                return true;
            }

            case MilterCommandCode.Connect:
            {
                if (!TryReadString(span, ref pos, out string host))
                {
                    error = MilterError.MissingNul;
                    return false;
                }
                if (pos >= span.Length)
                {
                    error = MilterError.WrongSize;
                    return false;
                }
                char family = (char)span[pos++];
                if (family == 'U')
                {
                    command = new MilterCommand.Connect(host, family, 0, null);
                    return EndOf(span, pos, ref error);
                }
                if (family is not ('4' or '6' or 'L'))
                {
                    error = MilterError.BadFamily;
                    return false;
                }
                if (span.Length - pos < 2)
                {
                    error = MilterError.WrongSize;
                    return false;
                }
                ushort port = BinaryPrimitives.ReadUInt16BigEndian(span[pos..]);
                pos += 2;
                if (!TryReadString(span, ref pos, out string address))
                {
                    error = MilterError.MissingNul;
                    return false;
                }
                command = new MilterCommand.Connect(host, family, port, address);
                return EndOf(span, pos, ref error);
            }

            case MilterCommandCode.Helo:
            {
                if (!TryReadString(span, ref pos, out string name))
                {
                    error = MilterError.MissingNul;
                    return false;
                }
                command = new MilterCommand.Helo(name);
                return EndOf(span, pos, ref error);
            }

            case MilterCommandCode.Mail:
            case MilterCommandCode.Rcpt:
            {
                var args = new List<string>();
                while (pos < span.Length)
                {
                    if (!TryReadString(span, ref pos, out string arg))
                    {
                        error = MilterError.MissingNul;
                        return false;
                    }
                    args.Add(arg);
                }
                if (args.Count == 0)
                {
                    error = MilterError.WrongSize;
                    return false;
                }
                string address = args[0];
                args.RemoveAt(0);
                command = code == (byte)MilterCommandCode.Mail
                    ? new MilterCommand.Mail(address, args)
                    : new MilterCommand.Rcpt(address, args);
                return true;
            }

            case MilterCommandCode.Header:
            {
                if (!TryReadString(span, ref pos, out string name))
                {
                    error = MilterError.MissingNul;
                    return false;
                }
                int nul = span[pos..].IndexOf((byte)0);
                if (nul < 0)
                {
                    error = MilterError.MissingNul;
                    return false;
                }
                command = new MilterCommand.Header(name, span.Slice(pos, nul).ToArray());
                return EndOf(span, pos + nul + 1, ref error);
            }

            case MilterCommandCode.Unknown:
            {
                if (!TryReadString(span, ref pos, out string line))
                {
                    error = MilterError.MissingNul;
                    return false;
                }
                command = new MilterCommand.Unknown(line);
                return EndOf(span, pos, ref error);
            }

            case MilterCommandCode.Body:
                command = new MilterCommand.Body(data);
                return true;

            case MilterCommandCode.BodyEob:
                command = new MilterCommand.BodyEob(data);
                return true;

            case MilterCommandCode.Data:
                command = new MilterCommand.Data();
                return Empty(span, ref error);

            case MilterCommandCode.EndOfHeaders:
                command = new MilterCommand.EndOfHeaders();
                return Empty(span, ref error);

            case MilterCommandCode.Abort:
                command = new MilterCommand.Abort();
                return Empty(span, ref error);

            case MilterCommandCode.Quit:
                command = new MilterCommand.Quit();
                return Empty(span, ref error);

            case MilterCommandCode.QuitNewConnection:
                command = new MilterCommand.QuitNewConnection();
                return Empty(span, ref error);

            default:
                error = MilterError.UnknownCommand;
                return false;
        }
    }

    /// <summary>Reads a NUL-terminated UTF-8 string at <paramref name="pos"/> and moves past the NUL.</summary>
    internal static bool TryReadString(ReadOnlySpan<byte> span, ref int pos, out string value)
    {
        int nul = span[pos..].IndexOf((byte)0);
        if (nul < 0)
        {
            value = string.Empty;
            return false;
        }
        value = Encoding.UTF8.GetString(span.Slice(pos, nul));
        pos += nul + 1;
        return true;
    }

    private static bool EndOf(ReadOnlySpan<byte> span, int pos, ref MilterError error)
    {
        if (pos != span.Length)
        {
            error = MilterError.TrailingData;
            return false;
        }
        return true;
    }

    private static bool Empty(ReadOnlySpan<byte> span, ref MilterError error)
    {
        if (span.Length != 0)
        {
            error = MilterError.WrongSize;
            return false;
        }
        return true;
    }
}
