using System.Text;
using ContentFilter.Pipeline.Checks;

namespace ContentFilter.Pipeline.Verdicts;

/// <summary>Builds and recognises Authentication-Results header values (RFC 8601).</summary>
public static class AuthenticationResultsHeader
{
    /// <summary>Formats <c>authserv-id; method=result reason="..." ptype.prop=value; ...</c>, folded one resinfo a line.</summary>
    public static string Format(string authServId, IReadOnlyList<AuthMethodResult> results)
    {
        var sb = new StringBuilder(authServId);
        if (results.Count == 0)
        {
            sb.Append("; none");
            return sb.ToString();
        }
        foreach (AuthMethodResult r in results)
        {
            sb.Append(";\r\n\t").Append(r.Method).Append('=').Append(r.Result);
            if (!string.IsNullOrEmpty(r.Reason))
            {
                sb.Append(" reason=\"").Append(r.Reason.Replace("\\", "\\\\").Replace("\"", "\\\"")).Append('"');
            }
            foreach (KeyValuePair<string, string> p in r.Properties)
            {
                sb.Append(' ').Append(p.Key).Append('=').Append(QuoteIfNeeded(p.Value));
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// True when an existing A-R header value names <paramref name="authServId"/> as its authserv-id
    /// (compared case-insensitively, comments ignored): such a header from outside is a forgery (RFC 8601 §5).
    /// </summary>
    public static bool ClaimsAuthServId(string headerValue, string authServId)
    {
        string v = StripComments(headerValue).Trim();
        int end = 0;
        while (end < v.Length && v[end] != ';' && !char.IsWhiteSpace(v[end]))
        {
            end++;
        }
        string id = v[..end];
        if (id.Length >= 2 && id[0] == '"' && id[^1] == '"')
        {
            id = id[1..^1];
        }
        return id.Equals(authServId, StringComparison.OrdinalIgnoreCase);
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

    private static string QuoteIfNeeded(string value)
    {
        foreach (char c in value)
        {
            if (c <= ' ' || c == ';' || c == '(' || c == ')' || c == '"' || c == '\\' || c == ',')
            {
                return "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
            }
        }
        return value;
    }
}
