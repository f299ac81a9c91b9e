namespace ContentFilter.Protocols.Smtp;

/// <summary>What a server offered in its EHLO reply (RFC 5321 §4.1.1.1: one <c>ehlo-keyword [params]</c> per line after the first).</summary>
/// <remarks>
/// The client only uses what was offered: parameters such as <c>SMTPUTF8</c>, <c>RET=</c> or <c>NOTIFY=</c> sent to a
/// server that did not advertise the extension are refused with 5xx (RFC 3461 §4, RFC 6531 §3.4), which would turn
/// a good message into a bounce. Keywords are case-insensitive (RFC 5321 §2.4).
/// </remarks>
public sealed class EhloCapabilities
{
    private readonly Dictionary<string, IReadOnlyList<string>> _keywords;

    private EhloCapabilities(string greeting, Dictionary<string, IReadOnlyList<string>> keywords)
    {
        Greeting = greeting;
        _keywords = keywords;
    }

    /// <summary>Nothing offered (the server answered HELO only, or we have not asked yet).</summary>
    public static EhloCapabilities None { get; } = new(string.Empty, new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase));

    /// <summary>The first line of the EHLO reply (the server's domain and greeting text).</summary>
    public string Greeting { get; }

    /// <summary>Every advertised keyword, upper-cased as sent.</summary>
    public IEnumerable<string> Keywords => _keywords.Keys;

    /// <summary>RFC 2920 command pipelining.</summary>
    public bool Pipelining => Has("PIPELINING");

    /// <summary>RFC 6152 <c>BODY=8BITMIME</c>.</summary>
    public bool EightBitMime => Has("8BITMIME");

    /// <summary>RFC 6531 internationalised addresses.</summary>
    public bool SmtpUtf8 => Has("SMTPUTF8");

    /// <summary>RFC 3461 delivery status notification parameters (RET, ENVID, NOTIFY, ORCPT).</summary>
    public bool Dsn => Has("DSN");

    /// <summary>RFC 2034 enhanced status codes in replies.</summary>
    public bool EnhancedStatusCodes => Has("ENHANCEDSTATUSCODES");

    /// <summary>RFC 1870 message size declaration.</summary>
    public bool Size => Has("SIZE");

    /// <summary>The RFC 1870 maximum size, when the server stated one (0 or absent means no fixed limit).</summary>
    public long? MaxSize
    {
        get
        {
            if (_keywords.TryGetValue("SIZE", out IReadOnlyList<string>? p) && p.Count > 0 && long.TryParse(p[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n) && n > 0)
            {
                return n;
            }
            return null;
        }
    }

    /// <summary>Postfix XFORWARD (XFORWARD_README): true when offered.</summary>
    public bool Xforward => Has("XFORWARD");

    /// <summary>The XFORWARD attribute names offered (<c>NAME ADDR PORT PROTO HELO IDENT SOURCE</c>), upper-cased.</summary>
    public IReadOnlySet<string> XforwardAttributes =>
        _keywords.TryGetValue("XFORWARD", out IReadOnlyList<string>? p)
            ? p.Select(a => a.ToUpperInvariant()).ToHashSet(StringComparer.Ordinal)
            : new HashSet<string>(StringComparer.Ordinal);

    /// <summary>True when <paramref name="keyword"/> was advertised.</summary>
    public bool Has(string keyword) => _keywords.ContainsKey(keyword);

    /// <summary>The parameters advertised with <paramref name="keyword"/>, or an empty list.</summary>
    public IReadOnlyList<string> Parameters(string keyword) =>
        _keywords.TryGetValue(keyword, out IReadOnlyList<string>? p) ? p : Array.Empty<string>();

    /// <summary>Parses a positive EHLO reply. Lines that are not <c>ehlo-keyword</c> shaped are ignored.</summary>
    /// <remarks>RFC 5321 §4.1.1.1: <c>ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")</c>; params are SP-separated.
    /// Some servers still send the pre-standard <c>AUTH=LOGIN</c> form; such lines are ignored like any other junk.</remarks>
    public static EhloCapabilities Parse(SmtpReceivedReply reply)
    {
        var keywords = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        for (int i = 1; i < reply.Lines.Count; i++)
        {
            string[] parts = reply.Lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || !IsEhloKeyword(parts[0]))
            {
                continue;
            }
            keywords[parts[0]] = parts[1..];
        }
        return new EhloCapabilities(reply.Lines.Count > 0 ? reply.Lines[0] : string.Empty, keywords);
    }

    private static bool IsEhloKeyword(string s)
    {
        if (s.Length == 0 || !char.IsAsciiLetterOrDigit(s[0]))
        {
            return false;
        }
        foreach (char c in s)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-')
            {
                return false;
            }
        }
        return true;
    }
}
