namespace ContentFilter.Testing.Smtp;

/// <summary>What the next hop would see: RFC 5321 dot-stuffing of the stored bytes, read the way Postfix's smtpd reads DATA.</summary>
public static class Downstream
{
    /// <summary>SMTP dot-stuffing of a stored message as RFC 5321 §4.5.2 asks (a dot at the start of a CRLF line is doubled), plus the terminator.</summary>
    public static byte[] StuffAfterCrlf(byte[] message)
    {
        var o = new List<byte>();
        bool lineStart = true;
        for (int i = 0; i < message.Length; i++)
        {
            if (lineStart && message[i] == (byte)'.')
            {
                o.Add((byte)'.');
            }
            o.Add(message[i]);
            lineStart = message[i] == (byte)'\n' && i > 0 && message[i - 1] == (byte)'\r';
        }
        if (!(message.Length == 0 || (message.Length >= 2 && message[^2] == '\r' && message[^1] == '\n')))
        {
            o.AddRange("\r\n"u8.ToArray());
        }
        o.AddRange(".\r\n"u8.ToArray());
        return o.ToArray();
    }

    /// <summary>How Postfix's smtpd reads DATA (smtp_get: lines end at LF, all trailing CRs stripped, "." alone ends):
    /// the number of LF-terminated lines read up to and including the first end-of-data line, or -1.</summary>
    public static int PostfixEndLine(byte[] wire)
    {
        int line = 0;
        int start = 0;
        for (int i = 0; i < wire.Length; i++)
        {
            if (wire[i] != (byte)'\n')
            {
                continue;
            }
            line++;
            int end = i;
            while (end > start && wire[end - 1] == (byte)'\r')
            {
                end--;
            }
            if (end - start == 1 && wire[start] == (byte)'.')
            {
                return line;
            }
            start = i + 1;
        }
        return -1;
    }
}
