using System.Globalization;
using System.Text;

namespace ContentFilter.Pipeline.Audit;

/// <summary>Renders an <see cref="AuditRecord"/> as amavisd-new's main log line, which admins grep.</summary>
/// <remarks>
/// <c>Passed CLEAN {RelayedInbound}, [ip]:port &lt;from&gt; -&gt; &lt;to&gt;,&lt;to2&gt;, Queue-ID: X, Message-ID: &lt;..&gt;,
/// mail_id: Y, Hits: -, size: N, queued_as: Z, T ms</c> (amavisd-new 2.13 log_templ, PROTOCOLS.md §7).
/// </remarks>
public static class AmavisLogLine
{
    /// <summary>Formats the line.</summary>
    public static string Format(AuditRecord r)
    {
        var sb = new StringBuilder(256);
        sb.Append(r.Disposition).Append(' ').Append(r.Category).Append(" {").Append(r.Action).Append('}');
        if (r.ClientAddress is not null)
        {
            sb.Append(", [").Append(r.ClientAddress).Append(']');
            if (r.ClientPort is int port)
            {
                sb.Append(':').Append(port.ToString(CultureInfo.InvariantCulture));
            }
        }
        sb.Append(r.ClientAddress is null ? ", " : " ");
        sb.Append('<').Append(r.Sender).Append("> -> ");
        sb.Append(string.Join(',', r.Recipients.Select(x => "<" + x + ">")));
        if (r.QuarantineId is not null)
        {
            sb.Append(", quarantine: ").Append(r.QuarantineId);
        }
        if (r.QueueId is not null)
        {
            sb.Append(", Queue-ID: ").Append(r.QueueId);
        }
        if (r.MessageId is not null)
        {
            sb.Append(", Message-ID: ").Append(r.MessageId);
        }
        sb.Append(", mail_id: ").Append(r.MailId);
        sb.Append(", Hits: ").Append(r.Hits is double h ? h.ToString("0.###", CultureInfo.InvariantCulture) : "-");
        sb.Append(", size: ").Append(r.Size.ToString(CultureInfo.InvariantCulture));
        if (r.QueuedAs is not null)
        {
            sb.Append(", queued_as: ").Append(r.QueuedAs);
        }
        if (r.DkimValid.Count > 0)
        {
            sb.Append(", dkim_sd=").Append(string.Join(',', r.DkimValid));
        }
        if (r.DkimNew.Count > 0)
        {
            sb.Append(", dkim_new=").Append(string.Join(',', r.DkimNew));
        }
        sb.Append(", ").Append(Math.Round(r.ElapsedMs).ToString(CultureInfo.InvariantCulture)).Append(" ms");
        return sb.ToString();
    }
}
