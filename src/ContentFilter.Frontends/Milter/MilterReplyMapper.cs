using System.Text;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Milter;

namespace ContentFilter.Frontends.Milter;

/// <summary>Turns one <see cref="Verdict"/> into the end-of-message packets: header edits, then one final action.</summary>
/// <remarks>
/// Header indexes follow cleanup_milter.c (PROTOCOLS.md §2): an insert at index n lands at position n+1 counting
/// every header including Postfix's own Received, so our added fields use 0, 1, 2 ... in order and end up above that
/// Received, where RFC 8601 wants Authentication-Results. A change or delete names the n-th field of that name as
/// received, which is exactly <see cref="HeaderEdit.Change.Occurrence"/>. Values travel with folding as a bare LF and,
/// with <c>SMFIP_HDR_LEADSPC</c>, with the space after the colon that Postfix would otherwise add itself.
/// </remarks>
public static class MilterReplyMapper
{
    /// <summary>Text used when a reject verdict has no reply.</summary>
    public static readonly Reply DefaultReject = new(554, "5.7.1", "Message content rejected");

    /// <summary>Text used when a temporary failure has no reply, and after an internal error.</summary>
    public static readonly Reply DefaultTempFail = new(451, "4.3.0", "Temporary failure, try again later");

    /// <summary>The packets for <paramref name="verdict"/>.</summary>
    /// <param name="verdict">The pipeline's decision.</param>
    /// <param name="actions">Actions the MTA granted; edits it did not grant are left out.</param>
    /// <param name="leadingSpace">True when <c>SMFIP_HDR_LEADSPC</c> was negotiated.</param>
    /// <param name="hold">Put the message on hold (<c>SMFIR_QUARANTINE</c>) instead of delivering or discarding it.</param>
    public static List<MilterReply> Map(Verdict verdict, MilterActions actions, bool leadingSpace, bool hold)
    {
        var replies = new List<MilterReply>();
        switch (verdict.Action)
        {
            case VerdictAction.Deliver:
                AddEdits(replies, verdict.Edits, actions, leadingSpace);
                if (hold && (actions & MilterActions.Quarantine) != 0)
                {
                    replies.Add(new MilterReply.Quarantine(QuarantineReason(verdict)));
                }
                replies.Add(MilterReply.Continue);
                break;
            case VerdictAction.Discard:
                if (hold && (actions & MilterActions.Quarantine) != 0)
                {
                    replies.Add(new MilterReply.Quarantine(QuarantineReason(verdict)));
                    replies.Add(MilterReply.Continue);
                }
                else
                {
                    replies.Add(MilterReply.Discard);
                }
                break;
            case VerdictAction.Reject:
                replies.Add(new MilterReply.ReplyCode(FormatReply(verdict.Reply is { IsPermanent: true } r ? r : DefaultReject)));
                break;
            default:
                replies.Add(new MilterReply.ReplyCode(FormatReply(verdict.Reply is { IsTransient: true } t ? t : DefaultTempFail)));
                break;
        }
        return replies;
    }

    /// <summary>
    /// <c>ddd x.y.z text</c> for <c>SMFIR_REPLYCODE</c>: the enhanced code's class follows the basic code (Postfix
    /// rejects a mismatch as a malformed reply), line breaks become spaces, and <c>%</c> is doubled (Postfix undoes
    /// Sendmail's format-string escaping).
    /// </summary>
    public static string FormatReply(Reply reply)
    {
        string code = reply.Code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string enhanced = reply.EnhancedCode;
        if (enhanced.Length > 0 && enhanced[0] != code[0])
        {
            enhanced = code[0] + enhanced[1..];
        }
        var text = new StringBuilder(reply.Text.Length + 16);
        foreach (char c in reply.Text)
        {
            text.Append(c switch
            {
                '\r' or '\n' or '\0' => " ",
                '%' => "%%",
                _ => c.ToString(),
            });
        }
        return enhanced.Length == 0 ? $"{code} {text}" : $"{code} {enhanced} {text}";
    }

    /// <summary>A header value as milter carries it: folding as bare LF, optional leading space.</summary>
    public static string WireValue(string value, bool leadingSpace)
    {
        string v = value.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\0', ' ');
        return leadingSpace ? " " + v : v;
    }

    private static void AddEdits(List<MilterReply> replies, HeaderEdits edits, MilterActions actions, bool leadingSpace)
    {
        uint insertAt = 0;
        foreach (HeaderEdit edit in edits)
        {
            switch (edit)
            {
                case HeaderEdit.Add a when (actions & MilterActions.AddHeaders) != 0:
                    replies.Add(new MilterReply.InsertHeader(insertAt++, a.Name, WireValue(a.Value, leadingSpace)));
                    break;
                case HeaderEdit.Remove r when (actions & MilterActions.ChangeHeaders) != 0:
                    replies.Add(new MilterReply.ChangeHeader((uint)Math.Max(1, r.Occurrence), r.Name, string.Empty));
                    break;
                case HeaderEdit.Change c when (actions & MilterActions.ChangeHeaders) != 0:
                    replies.Add(new MilterReply.ChangeHeader((uint)Math.Max(1, c.Occurrence), c.Name, WireValue(c.Value, leadingSpace)));
                    break;
            }
        }
    }

    private static string QuarantineReason(Verdict verdict) =>
        (verdict.CategoryText + (verdict.QuarantineId is null ? string.Empty : " " + verdict.QuarantineId)).Replace('\0', ' ');
}
