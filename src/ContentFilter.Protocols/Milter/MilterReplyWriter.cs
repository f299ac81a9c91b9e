using System.Buffers;

namespace ContentFilter.Protocols.Milter;

/// <summary>Writes filter-to-MTA packets (<c>SMFIR_*</c> and the OPTNEG answer).</summary>
public static class MilterReplyWriter
{
    /// <summary>Writes <paramref name="reply"/> as one packet.</summary>
    public static void Write(in MilterReply reply, IBufferWriter<byte> output)
    {
        var b = new MilterPacketBuilder();
        switch (reply)
        {
            case MilterReply.Simple:
                break;
            case MilterReply.OptNeg o:
                b.UInt32(o.Version).UInt32((uint)o.Actions).UInt32((uint)o.Protocol);
                foreach (KeyValuePair<MilterMacroStage, string> list in o.MacroLists)
                {
                    b.UInt32((uint)list.Key).String(list.Value);
                }
                break;
            case MilterReply.ReplyCode r:
                b.String(r.Text);
                break;
            case MilterReply.Quarantine q:
                b.String(q.Reason);
                break;
            case MilterReply.AddHeader h:
                b.String(h.Name).String(h.Value);
                break;
            case MilterReply.InsertHeader i:
                b.UInt32(i.Index).String(i.Name).String(i.Value);
                break;
            case MilterReply.ChangeHeader m:
                b.UInt32(m.Index).String(m.Name).String(m.Value);
                break;
            case MilterReply.ChangeFrom e:
                b.String(e.Sender);
                if (e.Parameters is not null)
                {
                    b.String(e.Parameters);
                }
                break;
            case MilterReply.AddRecipient a:
                b.String(a.Recipient);
                break;
            case MilterReply.AddRecipientWithParameters a2:
                b.String(a2.Recipient);
                if (a2.Parameters is not null)
                {
                    b.String(a2.Parameters);
                }
                break;
            case MilterReply.DeleteRecipient d:
                b.String(d.Recipient);
                break;
            case MilterReply.ReplaceBody body:
                b.Raw(body.Chunk);
                break;
            default:
                throw new ArgumentException("Unknown reply type " + reply.GetType().Name, nameof(reply));
        }
        b.WriteTo(output, (byte)reply.Code);
    }
}
