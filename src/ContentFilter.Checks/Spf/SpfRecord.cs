using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Checks.Spf;

/// <summary>SPF mechanism names (RFC 7208 §5).</summary>
internal enum SpfMechanism
{
    All,
    Include,
    A,
    Mx,
    Ptr,
    Ip4,
    Ip6,
    Exists,
}

/// <summary>One directive: qualifier, mechanism and its arguments (RFC 7208 §4.6.1).</summary>
internal sealed record SpfDirective(char Qualifier, SpfMechanism Mechanism, string? DomainSpec, IPAddress? Network, int Cidr4, int Cidr6, string Text);

/// <summary>A parsed <c>v=spf1</c> record. The whole record is checked before anything is evaluated (§4.6: a syntax error anywhere is a permerror).</summary>
internal sealed class SpfRecord
{
    private SpfRecord(IReadOnlyList<SpfDirective> directives, string? redirect, string? exp)
    {
        Directives = directives;
        Redirect = redirect;
        Exp = exp;
    }

    public IReadOnlyList<SpfDirective> Directives { get; }

    /// <summary>The <c>redirect=</c> domain-spec, or null; ignored when an <c>all</c> exists (§6.1).</summary>
    public string? Redirect { get; }

    /// <summary>The <c>exp=</c> domain-spec, or null.</summary>
    public string? Exp { get; }

    /// <summary>True when <paramref name="txt"/> is an SPF record: <c>v=spf1</c> then a space or the end (§4.5).</summary>
    public static bool IsSpfRecord(string txt) =>
        txt.StartsWith("v=spf1", StringComparison.OrdinalIgnoreCase) && (txt.Length == 6 || txt[6] == ' ');

    /// <summary>Parses a record that <see cref="IsSpfRecord"/> accepted.</summary>
    public static SpfRecord? Parse(string txt, out string? error)
    {
        error = null;
        foreach (char c in txt)
        {
            if (c < 0x20 || c > 0x7E)
            {
                error = c > 0x7E ? "non-ASCII character in record" : "control character in record";
                return null;
            }
        }
        var directives = new List<SpfDirective>();
        string? redirect = null;
        string? exp = null;
        foreach (string term in txt[6..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = ModifierNameLength(term);
            if (eq > 0)
            {
                string name = term[..eq];
                string value = term[(eq + 1)..];
                if (name.Equals("redirect", StringComparison.OrdinalIgnoreCase) || name.Equals("exp", StringComparison.OrdinalIgnoreCase))
                {
                    if (!IsDomainSpec(value, explanation: false))
                    {
                        error = $"bad domain-spec in {term}";
                        return null;
                    }
                    if (name.Equals("redirect", StringComparison.OrdinalIgnoreCase))
                    {
                        if (redirect is not null)
                        {
                            error = "redirect= appears twice";
                            return null;
                        }
                        redirect = value;
                    }
                    else
                    {
                        if (exp is not null)
                        {
                            error = "exp= appears twice";
                            return null;
                        }
                        exp = value;
                    }
                }
                else if (!SpfMacro.IsValid(value, explanation: false))
                {
                    // Unknown modifiers are ignored, but must still be syntactically valid (§6).
                    error = $"bad macro-string in {term}";
                    return null;
                }
                continue;
            }
            SpfDirective? d = ParseDirective(term);
            if (d is null)
            {
                error = $"bad term '{term}'";
                return null;
            }
            directives.Add(d);
        }
        if (directives.Any(d => d.Mechanism == SpfMechanism.All))
        {
            redirect = null;
        }
        return new SpfRecord(directives, redirect, exp);
    }

    /// <summary>Length of the modifier name before '=', or 0 when the term is not a modifier (name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )).</summary>
    private static int ModifierNameLength(string term)
    {
        if (term.Length == 0 || !char.IsAsciiLetter(term[0]))
        {
            return 0;
        }
        for (int i = 1; i < term.Length; i++)
        {
            char c = term[i];
            if (c == '=')
            {
                return i;
            }
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return 0;
            }
        }
        return 0;
    }

    private static SpfDirective? ParseDirective(string term)
    {
        char qualifier = '+';
        string rest = term;
        if (rest.Length > 0 && rest[0] is '+' or '-' or '~' or '?')
        {
            qualifier = rest[0];
            rest = rest[1..];
        }
        int end = rest.IndexOfAny([':', '/']);
        string name = end < 0 ? rest : rest[..end];
        string args = end < 0 ? string.Empty : rest[end..];
        SpfMechanism mechanism;
        switch (name.ToLowerInvariant())
        {
            case "all": mechanism = SpfMechanism.All; break;
            case "include": mechanism = SpfMechanism.Include; break;
            case "a": mechanism = SpfMechanism.A; break;
            case "mx": mechanism = SpfMechanism.Mx; break;
            case "ptr": mechanism = SpfMechanism.Ptr; break;
            case "ip4": mechanism = SpfMechanism.Ip4; break;
            case "ip6": mechanism = SpfMechanism.Ip6; break;
            case "exists": mechanism = SpfMechanism.Exists; break;
            default: return null;
        }
        switch (mechanism)
        {
            case SpfMechanism.All:
                return args.Length == 0 ? new SpfDirective(qualifier, mechanism, null, null, 32, 128, term) : null;
            case SpfMechanism.Include:
            case SpfMechanism.Exists:
                {
                    if (!args.StartsWith(':'))
                    {
                        return null;
                    }
                    string spec = args[1..];
                    return IsDomainSpec(spec, false) ? new SpfDirective(qualifier, mechanism, spec, null, 32, 128, term) : null;
                }
            case SpfMechanism.Ptr:
                {
                    if (args.Length == 0)
                    {
                        return new SpfDirective(qualifier, mechanism, null, null, 32, 128, term);
                    }
                    if (!args.StartsWith(':'))
                    {
                        return null;
                    }
                    string spec = args[1..];
                    return IsDomainSpec(spec, false) ? new SpfDirective(qualifier, mechanism, spec, null, 32, 128, term) : null;
                }
            case SpfMechanism.A:
            case SpfMechanism.Mx:
                {
                    string? spec = null;
                    string cidr = args;
                    if (args.StartsWith(':'))
                    {
                        // The domain-spec may itself hold '/' and ':' (any visible character but '%', §7.1);
                        // only a trailing run of "/digits" and "//digits" is the dual-cidr-length.
                        int split = DualCidrStart(args);
                        spec = args[1..split];
                        cidr = args[split..];
                        if (!IsDomainSpec(spec, false))
                        {
                            return null;
                        }
                    }
                    if (!TryParseDualCidr(cidr, out int c4, out int c6))
                    {
                        return null;
                    }
                    return new SpfDirective(qualifier, mechanism, spec, null, c4, c6, term);
                }
            case SpfMechanism.Ip4:
                {
                    if (!args.StartsWith(':'))
                    {
                        return null;
                    }
                    int slash = args.IndexOf('/');
                    string ip = slash < 0 ? args[1..] : args[1..slash];
                    int c4 = 32;
                    if (slash >= 0 && !TryParseCidr(args[(slash + 1)..], 32, out c4))
                    {
                        return null;
                    }
                    IPAddress? address = ParseIp4(ip);
                    return address is null ? null : new SpfDirective(qualifier, mechanism, null, address, c4, 128, term);
                }
            default:
                {
                    if (!args.StartsWith(':'))
                    {
                        return null;
                    }
                    int slash = args.IndexOf('/');
                    string ip = slash < 0 ? args[1..] : args[1..slash];
                    int c6 = 128;
                    if (slash >= 0 && !TryParseCidr(args[(slash + 1)..], 128, out c6))
                    {
                        return null;
                    }
                    if (ip.Contains('%') || !ip.Contains(':') || !IPAddress.TryParse(ip, out IPAddress? address) || address.AddressFamily != AddressFamily.InterNetworkV6)
                    {
                        return null;
                    }
                    return new SpfDirective(qualifier, mechanism, null, address, 32, c6, term);
                }
        }
    }

    /// <summary>Where a trailing <c>/n</c>, <c>//n</c> or <c>/n//n</c> begins (the length of the string when there is none).</summary>
    private static int DualCidrStart(string s)
    {
        System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(s, "(/[0-9]+)?(//[0-9]+)?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        return m.Success && m.Length > 0 ? m.Index : s.Length;
    }

    /// <summary>dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ] (§5.6), both optional.</summary>
    private static bool TryParseDualCidr(string s, out int c4, out int c6)
    {
        c4 = 32;
        c6 = 128;
        if (s.Length == 0)
        {
            return true;
        }
        if (!s.StartsWith('/'))
        {
            return false;
        }
        int dbl = s.IndexOf("//", StringComparison.Ordinal);
        string v4 = dbl < 0 ? s[1..] : s[1..Math.Max(1, dbl)];
        string? v6 = dbl < 0 ? null : s[(dbl + 2)..];
        if (v4.Length > 0 && !TryParseCidr(v4, 32, out c4))
        {
            return false;
        }
        if (v6 is not null && !TryParseCidr(v6, 128, out c6))
        {
            return false;
        }
        return v4.Length > 0 || v6 is not null;
    }

    /// <summary>A cidr length: "0" or a number without leading zero, at most <paramref name="max"/> (§5.6 ABNF).</summary>
    private static bool TryParseCidr(string s, int max, out int value)
    {
        value = 0;
        if (s.Length is 0 or > 3 || (s.Length > 1 && s[0] == '0') || !s.All(char.IsAsciiDigit))
        {
            return false;
        }
        value = int.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        return value <= max;
    }

    /// <summary>ip4-network = qnum "." qnum "." qnum "." qnum, strictly (no shorthand, no port).</summary>
    private static IPAddress? ParseIp4(string s)
    {
        string[] parts = s.Split('.');
        if (parts.Length != 4)
        {
            return null;
        }
        var bytes = new byte[4];
        for (int i = 0; i < 4; i++)
        {
            string p = parts[i];
            if (p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || (p.Length > 1 && p[0] == '0'))
            {
                return null;
            }
            int v = int.Parse(p, System.Globalization.CultureInfo.InvariantCulture);
            if (v > 255)
            {
                return null;
            }
            bytes[i] = (byte)v;
        }
        return new IPAddress(bytes);
    }

    /// <summary>
    /// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand (§7.1).
    /// A name whose last label is all digits is refused so that an IP address is never taken for a domain.
    /// </summary>
    internal static bool IsDomainSpec(string spec, bool explanation)
    {
        if (spec.Length == 0 || !SpfMacro.IsValid(spec, explanation))
        {
            return false;
        }
        if (SpfMacro.EndsWithMacroExpand(spec))
        {
            return true;
        }
        string s = spec.EndsWith('.') ? spec[..^1] : spec;
        int dot = s.LastIndexOf('.');
        if (dot < 0)
        {
            return false;
        }
        return IsTopLabel(s[(dot + 1)..]);
    }

    /// <summary>toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ).</summary>
    internal static bool IsTopLabel(string label)
    {
        if (label.Length == 0 || label.Length > 63 || label[0] == '-' || label[^1] == '-')
        {
            return false;
        }
        bool letterOrDash = false;
        foreach (char c in label)
        {
            if (char.IsAsciiLetter(c) || c == '-')
            {
                letterOrDash = true;
            }
            else if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        return letterOrDash;
    }
}
