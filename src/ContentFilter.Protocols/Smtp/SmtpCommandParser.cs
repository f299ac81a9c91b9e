using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;

namespace ContentFilter.Protocols.Smtp;

/// <summary>Parses one command line (without its line end) into an <see cref="SmtpCommand"/>.</summary>
/// <remarks>
/// Methods are named after the RFC 5321 §4.1.2 grammar so they read against the RFC. The parser is strict where a
/// mistake could change meaning (paths, parameters we act on, XFORWARD values) and lenient where Postfix is (spaces
/// after <c>FROM:</c>, case of keywords). ESMTP parameters are kept as raw strings so DSN parameters reach the next
/// hop unchanged. Non-ASCII is accepted only as valid UTF-8; whether the transaction allows it (SMTPUTF8) is the
/// session's decision.
/// </remarks>
public static class SmtpCommandParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Parses <paramref name="line"/>.</summary>
    public static bool TryParse(ReadOnlySequence<byte> line, out SmtpCommand? command, out SmtpError error)
    {
        if (line.IsSingleSegment)
        {
            return TryParse(line.FirstSpan, out command, out error);
        }
        return TryParse(line.ToArray(), out command, out error);
    }

    /// <summary>Parses <paramref name="line"/>.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out SmtpCommand? command, out SmtpError error)
    {
        command = null;
        if (line.IndexOf((byte)0) >= 0)
        {
            error = SmtpError.NulCharacter;
            return false;
        }
        string text;
        try
        {
            text = StrictUtf8.GetString(line);
        }
        catch (DecoderFallbackException)
        {
            error = SmtpError.SyntaxError;
            return false;
        }
        int sp = text.IndexOf(' ');
        string word = sp < 0 ? text : text[..sp];
        string rest = sp < 0 ? string.Empty : text[(sp + 1)..];
        SmtpVerb? verb = ReadVerb(word, out bool notImplemented);
        if (verb is null)
        {
            error = notImplemented ? SmtpError.NotImplemented : SmtpError.UnknownCommand;
            return false;
        }
        if (HasControl(text))
        {
            error = SmtpError.SyntaxError;
            return false;
        }
        error = SmtpError.None;
        switch (verb.Value)
        {
            case SmtpVerb.Ehlo or SmtpVerb.Helo or SmtpVerb.Lhlo:
                string domain = rest.Trim(' ');
                if (domain.Length == 0)
                {
                    error = SmtpError.SyntaxError;
                    return false;
                }
                command = new SmtpCommand.Hello(verb.Value, domain);
                return true;
            case SmtpVerb.Mail:
                return TryReadMail(rest, out command, out error);
            case SmtpVerb.Rcpt:
                return TryReadRcpt(rest, out command, out error);
            case SmtpVerb.Xforward:
                return TryReadXforward(rest, out command, out error);
            case SmtpVerb.Vrfy:
                if (rest.Trim(' ').Length == 0)
                {
                    error = SmtpError.SyntaxError;
                    return false;
                }
                command = new SmtpCommand.Vrfy(rest.Trim(' '));
                return true;
            case SmtpVerb.Data or SmtpVerb.Rset or SmtpVerb.Quit:
                if (rest.Trim(' ').Length != 0)
                {
                    error = SmtpError.SyntaxError;
                    return false;
                }
                command = new SmtpCommand.Simple(verb.Value);
                return true;
            default: // NOOP, HELP: arguments are allowed and ignored (RFC 5321 §4.1.1.8, §4.1.1.9)
                command = new SmtpCommand.Simple(verb.Value);
                return true;
        }
    }

    private static SmtpVerb? ReadVerb(string word, out bool notImplemented)
    {
        notImplemented = false;
        switch (word.ToUpperInvariant())
        {
            case "EHLO": return SmtpVerb.Ehlo;
            case "HELO": return SmtpVerb.Helo;
            case "LHLO": return SmtpVerb.Lhlo;
            case "MAIL": return SmtpVerb.Mail;
            case "RCPT": return SmtpVerb.Rcpt;
            case "DATA": return SmtpVerb.Data;
            case "RSET": return SmtpVerb.Rset;
            case "VRFY": return SmtpVerb.Vrfy;
            case "HELP": return SmtpVerb.Help;
            case "NOOP": return SmtpVerb.Noop;
            case "QUIT": return SmtpVerb.Quit;
            case "XFORWARD": return SmtpVerb.Xforward;
            case "BDAT" or "STARTTLS" or "AUTH" or "EXPN" or "ETRN" or "TURN" or "ATRN" or "BURL" or "SEND" or "SOML" or "SAML" or "XCLIENT":
                notImplemented = true;
                return null;
            default:
                return null;
        }
    }

    // What MAIL and RCPT share: "FROM:"/"TO:", optional spaces, the path, then parameters, none of them twice.
    private static bool TryReadPathAndParameters(string rest, string prefix, bool forward, out string path, out List<string> parameters, out SmtpError error)
    {
        path = string.Empty;
        parameters = [];
        if (!rest.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            error = SmtpError.SyntaxError;
            return false;
        }
        int pos = prefix.Length;
        SkipSpaces(rest, ref pos);
        if (!(forward ? TryReadForwardPath(rest, ref pos, out path) : TryReadReversePath(rest, ref pos, out path)))
        {
            error = forward ? SmtpError.BadForwardPath : SmtpError.BadReversePath;
            return false;
        }
        if (!TryReadEsmtpParameters(rest, ref pos, out parameters))
        {
            error = SmtpError.SyntaxError;
            return false;
        }
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string p in parameters)
        {
            SplitParameter(p, out string keyword, out _);
            if (!seen.Add(keyword))
            {
                error = SmtpError.SyntaxError;
                return false;
            }
        }
        error = SmtpError.None;
        return true;
    }

    // RFC 5321 §4.1.1.2: "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
    private static bool TryReadMail(string rest, out SmtpCommand? command, out SmtpError error)
    {
        command = null;
        if (!TryReadPathAndParameters(rest, "FROM:", forward: false, out string path, out List<string> parameters, out error))
        {
            return false;
        }
        long? size = null;
        bool eightBit = false;
        bool utf8 = false;
        foreach (string p in parameters)
        {
            SplitParameter(p, out string keyword, out string? value);
            switch (keyword.ToUpperInvariant())
            {
                case "SIZE": // RFC 1870: size-value ::= 1*20DIGIT
                    if (value is null || value.Length is 0 or > 20 || !value.All(char.IsAsciiDigit))
                    {
                        error = SmtpError.BadParameterValue;
                        return false;
                    }
                    if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long s))
                    {
                        s = long.MaxValue; // 20 digits may overflow: larger than any limit anyway
                    }
                    size = s;
                    break;
                case "BODY": // RFC 6152
                    if (value is null || !(value.Equals("7BIT", StringComparison.OrdinalIgnoreCase) || value.Equals("8BITMIME", StringComparison.OrdinalIgnoreCase)))
                    {
                        error = SmtpError.BadParameterValue;
                        return false;
                    }
                    eightBit = value.Equals("8BITMIME", StringComparison.OrdinalIgnoreCase);
                    break;
                case "SMTPUTF8": // RFC 6531 §3.4: no value
                    if (value is not null)
                    {
                        error = SmtpError.BadParameterValue;
                        return false;
                    }
                    utf8 = true;
                    break;
                case "RET": // RFC 3461 §4.3
                    if (value is null || !(value.Equals("FULL", StringComparison.OrdinalIgnoreCase) || value.Equals("HDRS", StringComparison.OrdinalIgnoreCase)))
                    {
                        error = SmtpError.BadParameterValue;
                        return false;
                    }
                    break;
                case "ENVID": // RFC 3461 §4.4: xtext, at most 100 characters
                    if (value is null || value.Length > 100 || !Xtext.TryDecode(value, out _))
                    {
                        error = SmtpError.BadParameterValue;
                        return false;
                    }
                    break;
                default:
                    error = SmtpError.UnsupportedParameter;
                    return false;
            }
        }
        error = SmtpError.None;
        command = new SmtpCommand.Mail(path, parameters) { Size = size, EightBitMime = eightBit, SmtpUtf8 = utf8 };
        return true;
    }

    // RFC 5321 §4.1.1.3: "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) [SP Rcpt-parameters] CRLF
    private static bool TryReadRcpt(string rest, out SmtpCommand? command, out SmtpError error)
    {
        command = null;
        if (!TryReadPathAndParameters(rest, "TO:", forward: true, out string path, out List<string> parameters, out error))
        {
            return false;
        }
        foreach (string p in parameters)
        {
            SplitParameter(p, out string keyword, out string? value);
            switch (keyword.ToUpperInvariant())
            {
                case "NOTIFY": // RFC 3461 §4.1: NEVER, or a list of SUCCESS, FAILURE, DELAY
                    if (value is null || !IsNotifyValue(value))
                    {
                        error = SmtpError.BadParameterValue;
                        return false;
                    }
                    break;
                case "ORCPT": // RFC 3461 §4.2: addr-type ";" xtext
                    int semi = value?.IndexOf(';') ?? -1;
                    if (value is null || semi < 1 || !Xtext.TryDecode(value.AsSpan(semi + 1), out _))
                    {
                        error = SmtpError.BadParameterValue;
                        return false;
                    }
                    break;
                default:
                    error = SmtpError.UnsupportedParameter;
                    return false;
            }
        }
        error = SmtpError.None;
        command = new SmtpCommand.Rcpt(path, parameters);
        return true;
    }

    /// <summary>Reverse-path = Path / "&lt;&gt;" (RFC 5321 §4.1.2).</summary>
    public static bool TryReadReversePath(string text, ref int pos, out string address)
    {
        if (string.CompareOrdinal(text, pos, "<>", 0, 2) == 0)
        {
            pos += 2;
            address = string.Empty;
            return AtParameterBoundary(text, pos);
        }
        return TryReadPath(text, ref pos, out address) && IsMailbox(address);
    }

    /// <summary>Forward-path = Path, or <c>&lt;Postmaster&gt;</c> without a domain (RFC 5321 §4.1.1.3).</summary>
    public static bool TryReadForwardPath(string text, ref int pos, out string address)
    {
        if (!TryReadPath(text, ref pos, out address))
        {
            return false;
        }
        return IsMailbox(address) || address.Equals("postmaster", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Path = "&lt;" [ A-d-l ":" ] Mailbox "&gt;"; the source route (A-d-l) is dropped (RFC 5321 §4.1.2, Appendix C).</summary>
    public static bool TryReadPath(string text, ref int pos, out string address)
    {
        address = string.Empty;
        if (pos >= text.Length || text[pos] != '<')
        {
            return false;
        }
        int i = pos + 1;
        if (i < text.Length && text[i] == '@')
        {
            int colon = text.IndexOf(':', i);
            int close = text.IndexOf('>', i);
            if (colon < 0 || (close >= 0 && close < colon))
            {
                return false;
            }
            i = colon + 1;
            if (i < text.Length && text[i] == '@')
            {
                // A second route ("<@a:@b:c@d>") is not a Mailbox. Kept, it would be the sender our checks see
                // while the next hop strips it again and delivers for "c@d" (found by the smtp-command fuzz target).
                return false;
            }
        }
        int start = i;
        bool quoted = false;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                continue;
            }
            if (c == '"')
            {
                quoted = true;
            }
            else if (c == '>')
            {
                break;
            }
            else if (c is ' ' or '<' or '\t')
            {
                return false;
            }
        }
        if (quoted || i >= text.Length)
        {
            return false;
        }
        address = text[start..i];
        pos = i + 1;
        return address.Length is > 0 and <= 1000 && AtParameterBoundary(text, pos);
    }

    /// <summary>Mailbox = Local-part "@" ( Domain / address-literal ), checked loosely: Postfix validates again at the next hop.</summary>
    public static bool IsMailbox(string address)
    {
        int at = LastAtOutsideQuotes(address);
        if (at <= 0 || at == address.Length - 1)
        {
            return false;
        }
        string domain = address[(at + 1)..];
        if (domain.StartsWith('['))
        {
            return domain.EndsWith(']') && domain.Length > 2;
        }
        return !domain.Contains('"') && !domain.StartsWith('.') && !domain.Contains("..", StringComparison.Ordinal);
    }

    /// <summary>Mail-parameters / Rcpt-parameters: esmtp-param *(SP esmtp-param) (RFC 5321 §4.1.2), kept raw.</summary>
    public static bool TryReadEsmtpParameters(string text, ref int pos, out List<string> parameters)
    {
        parameters = new List<string>();
        while (pos < text.Length)
        {
            if (text[pos] != ' ')
            {
                return false;
            }
            SkipSpaces(text, ref pos);
            if (pos >= text.Length)
            {
                break; // trailing spaces, as some clients send
            }
            int end = text.IndexOf(' ', pos);
            if (end < 0)
            {
                end = text.Length;
            }
            string p = text[pos..end];
            if (!IsEsmtpParameter(p))
            {
                return false;
            }
            parameters.Add(p);
            pos = end;
        }
        return true;
    }

    // esmtp-param = esmtp-keyword ["=" esmtp-value]; esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
    // esmtp-value = 1*(%d33-60 / %d62-126), widened to UTF-8 by RFC 6531 §3.3.
    private static bool IsEsmtpParameter(string p)
    {
        int eq = p.IndexOf('=');
        string keyword = eq < 0 ? p : p[..eq];
        if (keyword.Length == 0 || !char.IsAsciiLetterOrDigit(keyword[0]))
        {
            return false;
        }
        foreach (char c in keyword)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-')
            {
                return false;
            }
        }
        if (eq < 0)
        {
            return true;
        }
        string value = p[(eq + 1)..];
        return value.Length > 0 && !value.Contains('=');
    }

    // XFORWARD 1*(SP name=value) (XFORWARD_README)
    private static bool TryReadXforward(string rest, out SmtpCommand? command, out SmtpError error)
    {
        command = null;
        error = SmtpError.BadXforwardAttribute;
        string[] items = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (items.Length == 0)
        {
            error = SmtpError.SyntaxError;
            return false;
        }
        var attributes = new List<XforwardAttribute>(items.Length);
        foreach (string item in items)
        {
            int eq = item.IndexOf('=');
            if (eq <= 0)
            {
                return false;
            }
            string name = item[..eq].ToUpperInvariant();
            if (!XforwardAttribute.Supported.Contains(name))
            {
                return false;
            }
            if (!Xtext.TryDecode(item.AsSpan(eq + 1), out string value) || value.Length > 255)
            {
                return false;
            }
            string? v = value.Equals("[UNAVAILABLE]", StringComparison.OrdinalIgnoreCase) ? null : value;
            if (v is not null && name == "ADDR")
            {
                if (v.StartsWith("IPV6:", StringComparison.OrdinalIgnoreCase))
                {
                    v = v[5..];
                }
                if (!IPAddress.TryParse(v, out _) || v.Contains('%'))
                {
                    return false;
                }
            }
            if (v is not null && name == "PORT" && !(int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port <= 65535))
            {
                return false;
            }
            attributes.Add(new XforwardAttribute(name, v));
        }
        error = SmtpError.None;
        command = new SmtpCommand.Xforward(attributes);
        return true;
    }

    private static bool IsNotifyValue(string value)
    {
        if (value.Equals("NEVER", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        foreach (string v in value.Split(','))
        {
            if (!(v.Equals("SUCCESS", StringComparison.OrdinalIgnoreCase) || v.Equals("FAILURE", StringComparison.OrdinalIgnoreCase) || v.Equals("DELAY", StringComparison.OrdinalIgnoreCase)))
            {
                return false;
            }
        }
        return true;
    }

    private static void SplitParameter(string p, out string keyword, out string? value)
    {
        int eq = p.IndexOf('=');
        keyword = eq < 0 ? p : p[..eq];
        value = eq < 0 ? null : p[(eq + 1)..];
    }

    private static int LastAtOutsideQuotes(string address)
    {
        bool quoted = false;
        int last = -1;
        for (int i = 0; i < address.Length; i++)
        {
            char c = address[i];
            if (quoted && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c == '@')
            {
                last = i;
            }
        }
        return last;
    }

    private static bool AtParameterBoundary(string text, int pos) => pos == text.Length || text[pos] == ' ';

    private static void SkipSpaces(string text, ref int pos)
    {
        while (pos < text.Length && text[pos] == ' ')
        {
            pos++;
        }
    }

    private static bool HasControl(string text)
    {
        foreach (char c in text)
        {
            if (c < ' ' || c == '\u007f')
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>True when <paramref name="address"/> has non-ASCII characters (needs SMTPUTF8, RFC 6531 §3.3).</summary>
    public static bool IsNonAscii(string address) => !Ascii.IsValid(address);
}
