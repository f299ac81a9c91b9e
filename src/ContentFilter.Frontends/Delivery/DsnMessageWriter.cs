using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Frontends.Delivery;

/// <summary>Writes an RFC 3464 delivery status notification: <c>multipart/report; report-type=delivery-status</c>.</summary>
/// <remarks>
/// Three parts (RFC 6522 §3): a human-readable explanation, the <c>message/delivery-status</c> fields (one
/// per-message group, then one group per failed recipient), and the returned content: the original header section
/// as <c>text/rfc822-headers</c>, or the whole message as <c>message/rfc822</c> when the sender asked for
/// <c>RET=FULL</c> and it is small. The original bytes are copied verbatim from the spool, never re-serialised.
/// </remarks>
internal sealed class DsnMessageWriter
{
    private readonly DsnOptions _options;

    public DsnMessageWriter(DsnOptions options)
    {
        _options = options;
    }

    /// <summary>True when the written DSN contains 8-bit bytes (then MAIL FROM gets <c>BODY=8BITMIME</c>).</summary>
    public bool EightBit { get; private set; }

    /// <summary>Writes the DSN for <paramref name="failed"/> into <paramref name="destination"/>.</summary>
    public async Task WriteAsync(MessageContext context, IReadOnlyList<RecipientOutcome> failed, DateTimeOffset now, Stream destination, CancellationToken cancellationToken)
    {
        Envelope envelope = context.Envelope;
        MessageSpool spool = context.Spool;
        bool full = string.Equals(envelope.GetMailParameter("RET"), "FULL", StringComparison.OrdinalIgnoreCase)
            && spool.Length <= _options.MaxReturnedMessageBytes;
        long returnedLength = full ? spool.Length : spool.BodyOffset;
        EightBit = await HasEightBitAsync(spool, returnedLength, cancellationToken).ConfigureAwait(false)
            || failed.Any(f => !IsAscii(f.Recipient.Address)) || !IsAscii(envelope.MailFrom);

        string boundary = NewBoundary();
        string mta = _options.ReportingMta;
        var head = new StringBuilder();
        head.Append("Date: ").Append(FormatDate(now)).Append("\r\n");
        head.Append("From: MAILER-DAEMON@").Append(mta).Append(" (Mail Delivery System)\r\n");
        head.Append("To: <").Append(envelope.MailFrom).Append(">\r\n");
        head.Append("Subject: Undelivered Mail Returned to Sender\r\n");
        head.Append("Message-ID: <").Append(context.MailId).Append('.').Append(boundary[..12]).Append("@").Append(mta).Append(">\r\n");
        head.Append("Auto-Submitted: auto-replied\r\n");
        head.Append("MIME-Version: 1.0\r\n");
        head.Append("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"").Append(boundary).Append("\"\r\n");
        if (EightBit)
        {
            head.Append("Content-Transfer-Encoding: 8bit\r\n");
        }
        head.Append("\r\n");
        head.Append("This is a MIME-encapsulated message.\r\n\r\n");

        // Part 1: for people.
        head.Append("--").Append(boundary).Append("\r\n");
        head.Append("Content-Description: Notification\r\n");
        head.Append("Content-Type: text/plain; charset=us-ascii\r\n\r\n");
        head.Append("This is the mail system at host ").Append(mta).Append(".\r\n\r\n");
        head.Append("Your message could not be delivered to one or more recipients.\r\n");
        head.Append(full ? "It is attached below.\r\n\r\n" : "Its header section is attached below.\r\n\r\n");
        foreach (RecipientOutcome f in failed)
        {
            head.Append('<').Append(Ascii(f.Recipient.Address)).Append(">: ");
            head.Append("the next mail system said: ").Append(Ascii(f.Reply.ToString())).Append("\r\n");
        }
        head.Append("\r\n");

        // Part 2: RFC 3464 §2.2 per-message fields, §2.3 per-recipient fields.
        head.Append("--").Append(boundary).Append("\r\n");
        head.Append("Content-Description: Delivery report\r\n");
        head.Append("Content-Type: message/delivery-status\r\n\r\n");
        head.Append("Reporting-MTA: dns; ").Append(mta).Append("\r\n");
        string? envid = envelope.GetMailParameter("ENVID");
        if (!string.IsNullOrEmpty(envid))
        {
            head.Append("Original-Envelope-Id: ").Append(Ascii(XtextEncoder.Decode(envid))).Append("\r\n");
        }
        if (!string.IsNullOrEmpty(envelope.QueueId))
        {
            head.Append("X-Postfix-Queue-ID: ").Append(Ascii(envelope.QueueId)).Append("\r\n");
        }
        head.Append("Arrival-Date: ").Append(FormatDate(context.Received)).Append("\r\n");
        foreach (RecipientOutcome f in failed)
        {
            head.Append("\r\n");
            head.Append("Final-Recipient: rfc822; ").Append(f.Recipient.Address).Append("\r\n");
            string? orcpt = f.Recipient.Parameters.FirstOrDefault(p => p.StartsWith("ORCPT=", StringComparison.OrdinalIgnoreCase));
            if (orcpt is not null)
            {
                string value = orcpt[6..];
                int semi = value.IndexOf(';');
                if (semi > 0)
                {
                    head.Append("Original-Recipient: ").Append(Ascii(value[..semi].Trim())).Append("; ")
                        .Append(XtextEncoder.Decode(value[(semi + 1)..])).Append("\r\n");
                }
            }
            head.Append("Action: failed\r\n");
            head.Append("Status: ").Append(StatusOf(f.Reply.Code, f.Reply.EnhancedCode)).Append("\r\n");
            head.Append("Diagnostic-Code: smtp; ").Append(Ascii(f.Reply.ToString())).Append("\r\n");
        }
        head.Append("\r\n");

        // Part 3: the returned content, verbatim.
        head.Append("--").Append(boundary).Append("\r\n");
        if (full)
        {
            head.Append("Content-Description: Undelivered Message\r\n");
            head.Append("Content-Type: message/rfc822\r\n");
        }
        else
        {
            head.Append("Content-Description: Undelivered Message Headers\r\n");
            head.Append("Content-Type: text/rfc822-headers\r\n");
        }
        if (EightBit)
        {
            head.Append("Content-Transfer-Encoding: 8bit\r\n");
        }
        head.Append("\r\n");
        await destination.WriteAsync(Encoding.UTF8.GetBytes(head.ToString()), cancellationToken).ConfigureAwait(false);

        bool endsInCrLf = await CopyAsync(spool, returnedLength, destination, cancellationToken).ConfigureAwait(false);
        string tail = (endsInCrLf || returnedLength == 0 ? string.Empty : "\r\n") + "\r\n--" + boundary + "--\r\n";
        await destination.WriteAsync(Encoding.ASCII.GetBytes(tail), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>RFC 3464 §2.3.4 <c>status-code</c>: the enhanced code when it fits the reply class, else <c>5.0.0</c>.</summary>
    internal static string StatusOf(int code, string enhanced)
    {
        char cls = code >= 500 ? '5' : '4';
        return enhanced.Length >= 5 && enhanced[0] == cls ? enhanced : cls + ".0.0";
    }

    /// <summary>RFC 5322 §3.3 date-time in UTC.</summary>
    internal static string FormatDate(DateTimeOffset when) =>
        when.ToUniversalTime().ToString("ddd, dd MMM yyyy HH:mm:ss '+0000'", CultureInfo.InvariantCulture);

    private static string NewBoundary()
    {
        Span<byte> bytes = stackalloc byte[18];
        RandomNumberGenerator.Fill(bytes);
        return "=_dsn_" + Convert.ToHexString(bytes);
    }

    private static bool IsAscii(string s) => s.All(c => c < 0x80);

    /// <summary>Text for the 7-bit parts: anything outside printable ASCII becomes '?'.</summary>
    private static string Ascii(string s) => string.Create(s.Length, s, (span, src) =>
    {
        for (int i = 0; i < src.Length; i++)
        {
            span[i] = src[i] is >= ' ' and <= '~' ? src[i] : '?';
        }
    });

    private static async Task<bool> HasEightBitAsync(MessageSpool spool, long length, CancellationToken cancellationToken)
    {
        await using Stream source = spool.OpenRead();
        byte[] chunk = new byte[64 * 1024];
        long left = length;
        while (left > 0)
        {
            int n = await source.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, left)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            if (chunk.AsSpan(0, n).IndexOfAnyInRange((byte)0x80, (byte)0xFF) >= 0)
            {
                return true;
            }
            left -= n;
        }
        return false;
    }

    private static async Task<bool> CopyAsync(MessageSpool spool, long length, Stream destination, CancellationToken cancellationToken)
    {
        await using Stream source = spool.OpenRead();
        byte[] chunk = new byte[64 * 1024];
        long left = length;
        byte last = 0, beforeLast = 0;
        long copied = 0;
        while (left > 0)
        {
            int n = await source.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, left)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            await destination.WriteAsync(chunk.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            beforeLast = n >= 2 ? chunk[n - 2] : last;
            last = chunk[n - 1];
            copied += n;
            left -= n;
        }
        return copied >= 2 && beforeLast == (byte)'\r' && last == (byte)'\n';
    }
}
