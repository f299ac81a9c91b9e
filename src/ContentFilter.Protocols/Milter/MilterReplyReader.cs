using System.Buffers;
using System.Buffers.Binary;

namespace ContentFilter.Protocols.Milter;

/// <summary>Reads filter-to-MTA packets: the MTA side of the codec, for tests and round trips.</summary>
/// <remarks>Same framing rules as <see cref="MilterPacketReader"/>: cap and zero length checked before allocation.</remarks>
public sealed class MilterReplyReader
{
    private readonly MilterLimits _limits;

    /// <summary>Creates the reader.</summary>
    public MilterReplyReader(MilterLimits? limits = null)
    {
        _limits = limits ?? MilterLimits.Default;
    }

    /// <summary>Reads one reply packet if complete; <c>false</c> without error means "need more".</summary>
    public bool TryRead(ref SequenceReader<byte> reader, out MilterReply reply, out MilterError error)
    {
        reply = null!;
        SequenceReader<byte> probe = reader;
        if (!MilterFrame.TryRead(ref probe, _limits.MaxPacketSize, out byte code, out byte[] data, out error))
        {
            return false;
        }
        if (!TryDecode(code, data, out reply, out error))
        {
            return false;
        }
        reader = probe;
        return true;
    }

    private static bool TryDecode(byte code, byte[] data, out MilterReply reply, out MilterError error)
    {
        reply = null!;
        error = MilterError.None;
        ReadOnlySpan<byte> span = data;
        int pos = 0;
        switch ((MilterReplyCode)code)
        {
            case MilterReplyCode.Accept or MilterReplyCode.Continue or MilterReplyCode.Reject or MilterReplyCode.TempFail
                or MilterReplyCode.Discard or MilterReplyCode.Skip or MilterReplyCode.Progress or MilterReplyCode.Shutdown:
                if (span.Length != 0)
                {
                    error = MilterError.WrongSize;
                    return false;
                }
                reply = new MilterReply.Simple((MilterReplyCode)code);
                return true;
            case MilterReplyCode.OptNeg:
            {
                if (span.Length < 12)
                {
                    error = MilterError.WrongSize;
                    return false;
                }
                var lists = new List<KeyValuePair<MilterMacroStage, string>>();
                pos = 12;
                while (pos < span.Length)
                {
                    if (span.Length - pos < 4)
                    {
                        error = MilterError.WrongSize;
                        return false;
                    }
                    var stage = (MilterMacroStage)BinaryPrimitives.ReadUInt32BigEndian(span[pos..]);
                    pos += 4;
                    if (!MilterPacketReader.TryReadString(span, ref pos, out string names))
                    {
                        error = MilterError.MissingNul;
                        return false;
                    }
                    lists.Add(new(stage, names));
                }
                reply = new MilterReply.OptNeg(
                    BinaryPrimitives.ReadUInt32BigEndian(span),
                    (MilterActions)BinaryPrimitives.ReadUInt32BigEndian(span[4..]),
                    (MilterProtocol)BinaryPrimitives.ReadUInt32BigEndian(span[8..]),
                    lists);
                return true;
            }
            case MilterReplyCode.ReplaceBody:
                reply = new MilterReply.ReplaceBody(data);
                return true;
        }

        var strings = new List<string>();
        uint index = 0;
        bool indexed = code is (byte)MilterReplyCode.InsertHeader or (byte)MilterReplyCode.ChangeHeader;
        if (indexed)
        {
            if (span.Length < 4)
            {
                error = MilterError.WrongSize;
                return false;
            }
            index = BinaryPrimitives.ReadUInt32BigEndian(span);
            pos = 4;
        }
        while (pos < span.Length)
        {
            if (!MilterPacketReader.TryReadString(span, ref pos, out string s))
            {
                error = MilterError.MissingNul;
                return false;
            }
            strings.Add(s);
        }
        (int min, int max) = (MilterReplyCode)code switch
        {
            MilterReplyCode.ReplyCode or MilterReplyCode.Quarantine or MilterReplyCode.AddRecipient or MilterReplyCode.DeleteRecipient => (1, 1),
            MilterReplyCode.AddHeader or MilterReplyCode.InsertHeader or MilterReplyCode.ChangeHeader => (2, 2),
            MilterReplyCode.ChangeFrom or MilterReplyCode.AddRecipientWithParameters => (1, 2),
            _ => (-1, -1),
        };
        if (min < 0)
        {
            error = MilterError.UnknownCommand;
            return false;
        }
        if (strings.Count < min || strings.Count > max)
        {
            error = MilterError.WrongSize;
            return false;
        }
        reply = (MilterReplyCode)code switch
        {
            MilterReplyCode.ReplyCode => new MilterReply.ReplyCode(strings[0]),
            MilterReplyCode.Quarantine => new MilterReply.Quarantine(strings[0]),
            MilterReplyCode.AddRecipient => new MilterReply.AddRecipient(strings[0]),
            MilterReplyCode.DeleteRecipient => new MilterReply.DeleteRecipient(strings[0]),
            MilterReplyCode.AddHeader => new MilterReply.AddHeader(strings[0], strings[1]),
            MilterReplyCode.InsertHeader => new MilterReply.InsertHeader(index, strings[0], strings[1]),
            MilterReplyCode.ChangeHeader => new MilterReply.ChangeHeader(index, strings[0], strings[1]),
            MilterReplyCode.ChangeFrom => new MilterReply.ChangeFrom(strings[0], strings.Count > 1 ? strings[1] : null),
            _ => new MilterReply.AddRecipientWithParameters(strings[0], strings.Count > 1 ? strings[1] : null),
        };
        return true;
    }
}
