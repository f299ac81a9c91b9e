using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ContentFilter.Checks.Spf;

/// <summary>What macros expand to during one evaluation (RFC 7208 §7.2).</summary>
internal sealed class SpfMacroContext
{
    public required IPAddress Ip { get; init; }

    /// <summary><c>s</c>: the sender (local-part@domain).</summary>
    public required string Sender { get; init; }

    /// <summary><c>l</c>.</summary>
    public required string LocalPart { get; init; }

    /// <summary><c>o</c>.</summary>
    public required string SenderDomain { get; init; }

    /// <summary><c>d</c>: the current domain (changes with include and redirect).</summary>
    public required string Domain { get; init; }

    /// <summary><c>h</c>.</summary>
    public required string Helo { get; init; }

    /// <summary><c>r</c>: our host name (explanations only).</summary>
    public required string Receiver { get; init; }

    /// <summary><c>t</c>: seconds since the epoch (explanations only).</summary>
    public required long Timestamp { get; init; }

    /// <summary><c>p</c>: the validated client name, computed on first use (it costs DNS queries).</summary>
    public required Func<string, CancellationToken, Task<string>> ValidatedName { get; init; }

    public SpfMacroContext WithDomain(string domain) => new()
    {
        Ip = Ip,
        Sender = Sender,
        LocalPart = LocalPart,
        SenderDomain = SenderDomain,
        Domain = domain,
        Helo = Helo,
        Receiver = Receiver,
        Timestamp = Timestamp,
        ValidatedName = ValidatedName,
    };
}

/// <summary>SPF macro-strings (RFC 7208 §7): validation and expansion.</summary>
internal static class SpfMacro
{
    private const string Delimiters = ".-+,/_=";

    /// <summary>
    /// macro-string = *( macro-expand / macro-literal ); letters c, r, t only in explanation strings (§7.1, §7.2),
    /// a zero digit transformer is refused (§7.3).
    /// </summary>
    public static bool IsValid(string s, bool explanation)
    {
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c != '%')
            {
                if (c < 0x21 && !(explanation && c == ' ') || c > 0x7E)
                {
                    return false;
                }
                continue;
            }
            if (i + 1 >= s.Length)
            {
                return false;
            }
            char n = s[i + 1];
            if (n is '%' or '_' or '-')
            {
                i++;
                continue;
            }
            if (n != '{')
            {
                return false;
            }
            int close = s.IndexOf('}', i + 2);
            if (close < 0 || !TryParseMacro(s.AsSpan(i + 2, close - i - 2), explanation, out _, out _, out _, out _))
            {
                return false;
            }
            i = close;
        }
        return true;
    }

    /// <summary>True when the string ends with a macro-expand (then domain-end needs no toplabel).</summary>
    public static bool EndsWithMacroExpand(string s)
    {
        if (s.EndsWith('}'))
        {
            int open = s.LastIndexOf("%{", StringComparison.Ordinal);
            return open >= 0 && (open == 0 || !EndsInEscapedPercent(s, open));
        }
        if (s.Length >= 2 && s[^2] == '%' && s[^1] is '%' or '_' or '-')
        {
            return !EndsInEscapedPercent(s, s.Length - 2);
        }
        return false;
    }

    private static bool EndsInEscapedPercent(string s, int percentIndex)
    {
        int count = 0;
        for (int i = percentIndex - 1; i >= 0 && s[i] == '%'; i--)
        {
            count++;
        }
        return count % 2 == 1;
    }

    /// <summary>Expands a macro-string validated by <see cref="IsValid"/>.</summary>
    public static async Task<string> ExpandAsync(string s, SpfMacroContext ctx, bool explanation, CancellationToken cancellationToken)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }
            char n = s[++i];
            switch (n)
            {
                case '%': sb.Append('%'); continue;
                case '_': sb.Append(' '); continue;
                case '-': sb.Append("%20"); continue;
            }
            int close = s.IndexOf('}', i + 1);
            TryParseMacro(s.AsSpan(i + 1, close - i - 1), explanation, out char letter, out int digits, out bool reverse, out string delimiters);
            i = close;
            string value = char.ToLowerInvariant(letter) switch
            {
                's' => ctx.Sender,
                'l' => ctx.LocalPart,
                'o' => ctx.SenderDomain,
                'd' => ctx.Domain,
                'i' => DottedIp(ctx.Ip),
                'p' => await ctx.ValidatedName(ctx.Domain, cancellationToken).ConfigureAwait(false),
                'v' => ctx.Ip.AddressFamily == AddressFamily.InterNetwork ? "in-addr" : "ip6",
                'h' => ctx.Helo,
                'c' => ctx.Ip.ToString(),
                'r' => ctx.Receiver,
                't' => ctx.Timestamp.ToString(CultureInfo.InvariantCulture),
                _ => string.Empty,
            };
            value = Transform(value, digits, reverse, delimiters);
            if (char.IsUpper(letter))
            {
                value = Uri.EscapeDataString(value);
            }
            sb.Append(value);
        }
        return sb.ToString();
    }

    /// <summary>Splits on the delimiters, optionally reverses, keeps the rightmost <paramref name="digits"/> parts, joins with dots (§7.3).</summary>
    private static string Transform(string value, int digits, bool reverse, string delimiters)
    {
        if (digits == 0 && !reverse && delimiters == ".")
        {
            return value;
        }
        string[] parts = value.Split(delimiters.ToCharArray());
        if (reverse)
        {
            Array.Reverse(parts);
        }
        if (digits > 0 && digits < parts.Length)
        {
            parts = parts[^digits..];
        }
        return string.Join('.', parts);
    }

    private static bool TryParseMacro(ReadOnlySpan<char> body, bool explanation, out char letter, out int digits, out bool reverse, out string delimiters)
    {
        letter = '\0';
        digits = 0;
        reverse = false;
        delimiters = ".";
        if (body.Length == 0)
        {
            return false;
        }
        letter = body[0];
        string letters = explanation ? "slodiphvcrt" : "slodiphv";
        if (!letters.Contains(char.ToLowerInvariant(letter)))
        {
            return false;
        }
        int i = 1;
        int start = i;
        while (i < body.Length && char.IsAsciiDigit(body[i]))
        {
            i++;
        }
        if (i > start)
        {
            if (!int.TryParse(body[start..i], NumberStyles.None, CultureInfo.InvariantCulture, out digits) || digits == 0 || digits > 128)
            {
                return false;
            }
        }
        if (i < body.Length && body[i] is 'r' or 'R')
        {
            reverse = true;
            i++;
        }
        if (i < body.Length)
        {
            foreach (char d in body[i..])
            {
                if (!Delimiters.Contains(d))
                {
                    return false;
                }
            }
            delimiters = body[i..].ToString();
        }
        return true;
    }

    /// <summary>The <c>i</c> macro: dotted quad for IPv4, dot-separated nibbles for IPv6 (§7.3).</summary>
    private static string DottedIp(IPAddress ip)
    {
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            return ip.ToString();
        }
        byte[] b = ip.GetAddressBytes();
        var sb = new StringBuilder(63);
        foreach (byte x in b)
        {
            if (sb.Length > 0)
            {
                sb.Append('.');
            }
            sb.Append((x >> 4).ToString("x", CultureInfo.InvariantCulture)).Append('.').Append((x & 0xF).ToString("x", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
