namespace ContentFilter.Checks.Dkim;

/// <summary>A parsed DKIM tag=value list (RFC 6376 §3.2), used by signatures, key records and ARC headers.</summary>
/// <remarks>
/// The grammar is strict on purpose: a duplicate tag or a tag name that is not <c>ALPHA *ALNUMPUNC</c> makes the
/// whole list invalid (§3.2: "Tags with duplicate names MUST NOT occur"), which is a permerror for the signature,
/// so an attacker cannot smuggle a second <c>d=</c> past one parser and into another.
/// </remarks>
public sealed class DkimTagList
{
    private readonly List<KeyValuePair<string, string>> _tags;

    private DkimTagList(List<KeyValuePair<string, string>> tags) => _tags = tags;

    /// <summary>Tags in the order written; values have leading and trailing folding white space removed.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Tags => _tags;

    /// <summary>The value of <paramref name="name"/> (case-sensitive, as §3.2 says), or <c>null</c>.</summary>
    public string? this[string name]
    {
        get
        {
            foreach (KeyValuePair<string, string> t in _tags)
            {
                if (t.Key == name)
                {
                    return t.Value;
                }
            }
            return null;
        }
    }

    /// <summary>Parses <paramref name="text"/>; returns false with <paramref name="error"/> set when malformed.</summary>
    public static bool TryParse(string text, out DkimTagList tags, out string? error)
    {
        var list = new List<KeyValuePair<string, string>>();
        tags = new DkimTagList(list);
        error = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string[] parts = text.Split(';');
        for (int i = 0; i < parts.Length; i++)
        {
            string spec = TrimFws(parts[i]);
            if (spec.Length == 0)
            {
                // tag-list = tag-spec *( ";" tag-spec ) [ ";" ]: an empty spec is allowed only after a final ';'.
                if (i == parts.Length - 1 && i > 0)
                {
                    continue;
                }
                error = "empty tag";
                return false;
            }
            int eq = spec.IndexOf('=');
            if (eq <= 0)
            {
                error = $"malformed tag '{Shorten(spec)}'";
                return false;
            }
            string name = TrimFws(spec[..eq]);
            string value = TrimFws(spec[(eq + 1)..]);
            if (!IsTagName(name))
            {
                error = $"malformed tag name '{Shorten(name)}'";
                return false;
            }
            if (!seen.Add(name))
            {
                error = $"duplicate tag '{name}'";
                return false;
            }
            list.Add(new KeyValuePair<string, string>(name, value));
        }
        return true;
    }

    /// <summary>Removes all folding white space (SP, HTAB, CR, LF) from a base64 value (b=, bh=, p=).</summary>
    public static string StripWhiteSpace(string value)
    {
        var chars = new char[value.Length];
        int n = 0;
        foreach (char c in value)
        {
            if (c is not (' ' or '\t' or '\r' or '\n'))
            {
                chars[n++] = c;
            }
        }
        return new string(chars, 0, n);
    }

    private static bool IsTagName(string name)
    {
        if (name.Length == 0 || !char.IsAsciiLetter(name[0]))
        {
            return false;
        }
        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }
        return true;
    }

    private static string TrimFws(string s) => s.Trim(' ', '\t', '\r', '\n');

    private static string Shorten(string s) => s.Length <= 20 ? s : s[..20] + "...";
}
