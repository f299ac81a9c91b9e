using System.Text;
using ContentFilter.Pipeline.Checks;

namespace ContentFilter.Pipeline.Verdicts;

/// <summary>Builds and recognises Authentication-Results header values (RFC 8601).</summary>
/// <remarks>
/// We write exactly one A-R field, at the top, under our authserv-id (§4, §5). Downstream filters and MUAs trust
/// an A-R by its authserv-id alone, so a field from outside that claims ours is a forgery and is removed; fields of
/// other authserv-ids are kept (§5, §7.1).
/// </remarks>
public static class AuthenticationResultsHeader
{
    /// <summary>Formats <c>authserv-id; method=result (comment) reason="..." ptype.prop=value; ...</c>, folded one resinfo a line.</summary>
    /// <remarks>
    /// Values that are not a plain token or <c>local@domain</c> are written as quoted-strings, comments have their
    /// parentheses and backslashes escaped, and control characters (CR/LF above all) become spaces, so data taken
    /// from the message or DNS can never end the header or inject a field (RFC 8601 §2.2 grammar, RFC 5322 §3.2).
    /// </remarks>
    public static string Format(string authServId, IReadOnlyList<AuthMethodResult> results)
    {
        var sb = new StringBuilder(QuoteIfNeeded(authServId, allowAt: false));
        if (results.Count == 0)
        {
            sb.Append("; none");
            return sb.ToString();
        }
        foreach (AuthMethodResult r in results)
        {
            sb.Append(";\r\n\t").Append(Token(r.Method)).Append('=').Append(Token(r.Result));
            if (!string.IsNullOrEmpty(r.Comment))
            {
                sb.Append(" (").Append(EscapeComment(r.Comment)).Append(')');
            }
            if (!string.IsNullOrEmpty(r.Reason))
            {
                sb.Append(" reason=").Append(Quote(r.Reason));
            }
            foreach (KeyValuePair<string, string> p in r.Properties)
            {
                sb.Append(' ').Append(Token(p.Key)).Append('=').Append(QuoteIfNeeded(p.Value, allowAt: true));
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// True when an existing A-R header value names <paramref name="authServId"/> as its authserv-id
    /// (compared case-insensitively, comments ignored, quoted form accepted): such a header from outside is a
    /// forgery (RFC 8601 §5).
    /// </summary>
    public static bool ClaimsAuthServId(string headerValue, string authServId)
    {
        string? id = ParseAuthServId(headerValue);
        return id is not null && id.TrimEnd('.').Equals(authServId.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The authserv-id of an A-R value (token or quoted-string, comments skipped), or null when there is none.</summary>
    public static string? ParseAuthServId(string headerValue)
    {
        string v = StripComments(headerValue).TrimStart(' ', '\t', '\r', '\n');
        if (v.Length == 0)
        {
            return null;
        }
        if (v[0] == '"')
        {
            var sb = new StringBuilder();
            for (int i = 1; i < v.Length; i++)
            {
                char c = v[i];
                if (c == '\\' && i + 1 < v.Length)
                {
                    sb.Append(v[++i]);
                }
                else if (c == '"')
                {
                    return sb.ToString();
                }
                else
                {
                    sb.Append(c);
                }
            }
            return null;
        }
        int end = 0;
        while (end < v.Length && v[end] != ';' && !char.IsWhiteSpace(v[end]))
        {
            end++;
        }
        return end == 0 ? null : v[..end];
    }

    private static string StripComments(string value)
    {
        var sb = new StringBuilder(value.Length);
        int depth = 0;
        bool quoted = false;
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '\\' && i + 1 < value.Length)
            {
                if (depth == 0)
                {
                    sb.Append(c).Append(value[i + 1]);
                }
                i++;
                continue;
            }
            if (c == '"' && depth == 0)
            {
                quoted = !quoted;
            }
            if (!quoted && c == '(')
            {
                depth++;
                continue;
            }
            if (!quoted && c == ')' && depth > 0)
            {
                depth--;
                continue;
            }
            if (depth == 0)
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>Method, result and ptype.property names are tokens we choose; anything else is replaced, never passed through.</summary>
    private static string Token(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '_');
        }
        return sb.Length == 0 ? "_" : sb.ToString();
    }

    /// <summary>
    /// A token stays bare (RFC 2045 token: no SPACE, CTL or tspecial); so does <c>local-part@domain</c> for property
    /// values (RFC 8601 pvalue). Everything else is a quoted-string.
    /// </summary>
    private static string QuoteIfNeeded(string value, bool allowAt)
    {
        if (value.Length == 0)
        {
            return "\"\"";
        }
        int ats = 0;
        foreach (char c in value)
        {
            if (c == '@' && allowAt)
            {
                ats++;
                continue;
            }
            if (c <= ' ' || c >= 0x7F || "()<>@,;:\\\"/[]?=".Contains(c))
            {
                return Quote(value);
            }
        }
        return ats > 1 || value[^1] == '@' ? Quote(value) : value;
    }

    private static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (char c in value)
        {
            if (c is '"' or '\\')
            {
                sb.Append('\\');
            }
            sb.Append(char.IsControl(c) ? ' ' : c);
        }
        return sb.Append('"').ToString();
    }

    private static string EscapeComment(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (char c in value)
        {
            if (c is '(' or ')' or '\\')
            {
                sb.Append('\\');
            }
            sb.Append(char.IsControl(c) ? ' ' : c);
        }
        return sb.ToString();
    }
}
