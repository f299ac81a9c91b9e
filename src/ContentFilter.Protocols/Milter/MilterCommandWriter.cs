using System.Buffers;

namespace ContentFilter.Protocols.Milter;

/// <summary>Writes MTA-to-filter packets: the MTA side of the codec, for tests, tools and round trips.</summary>
public static class MilterCommandWriter
{
    /// <summary>Writes <paramref name="command"/> as one packet.</summary>
    public static void Write(in MilterCommand command, IBufferWriter<byte> output)
    {
        var b = new MilterPacketBuilder();
        switch (command)
        {
            case MilterCommand.OptNeg o:
                b.UInt32(o.Version).UInt32((uint)o.Actions).UInt32((uint)o.Protocol);
                break;
            case MilterCommand.Macro m:
                b.Byte((byte)m.Stage);
                foreach (KeyValuePair<string, string> kv in m.Macros)
                {
                    b.String(kv.Key).String(kv.Value);
                }
                break;
            case MilterCommand.Connect c:
                b.String(c.Host).Byte((byte)c.Family);
                if (c.Family != 'U')
                {
                    b.UInt16(c.Port).String(c.Address ?? string.Empty);
                }
                break;
            case MilterCommand.Helo h:
                b.String(h.Name);
                break;
            case MilterCommand.Mail mail:
                b.String(mail.Address);
                foreach (string p in mail.Parameters)
                {
                    b.String(p);
                }
                break;
            case MilterCommand.Rcpt rcpt:
                b.String(rcpt.Address);
                foreach (string p in rcpt.Parameters)
                {
                    b.String(p);
                }
                break;
            case MilterCommand.Header h:
                b.String(h.Name).CString(h.Value);
                break;
            case MilterCommand.Body body:
                b.Raw(body.Chunk);
                break;
            case MilterCommand.BodyEob eob:
                b.Raw(eob.Chunk);
                break;
            case MilterCommand.Unknown u:
                b.String(u.CommandLine);
                break;
            case MilterCommand.Data or MilterCommand.EndOfHeaders or MilterCommand.Abort or MilterCommand.Quit or MilterCommand.QuitNewConnection:
                break;
            default:
                throw new ArgumentException("Unknown command type " + command.GetType().Name, nameof(command));
        }
        b.WriteTo(output, (byte)command.Code);
    }
}
