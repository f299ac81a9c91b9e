using System.Globalization;

namespace ContentFilter.Checks.Dmarc;

/// <summary>The Public Suffix List (publicsuffix.org) and its algorithm: the registrable (organisational) domain of a name.</summary>
/// <remarks>
/// DMARC's relaxed alignment and its policy fallback both need the organisational domain (RFC 7489 §3.2): without
/// the list, <c>evil.co.uk</c> and <c>bank.co.uk</c> would share "co.uk" and align. Rules and names are compared in
/// their A-label (punycode) form, so a rule written in Unicode matches a name written either way; the answer keeps
/// the form the caller used. Both the ICANN and the private sections are used, as OpenDMARC does.
/// </remarks>
public sealed class PublicSuffixList
{
    private static readonly IdnMapping Idn = new() { AllowUnassigned = true, UseStd3AsciiRules = false };
    private readonly HashSet<string> _rules;
    private readonly HashSet<string> _wildcards;
    private readonly HashSet<string> _exceptions;

    private PublicSuffixList(HashSet<string> rules, HashSet<string> wildcards, HashSet<string> exceptions)
    {
        _rules = rules;
        _wildcards = wildcards;
        _exceptions = exceptions;
    }

    /// <summary>Number of rules loaded.</summary>
    public int RuleCount => _rules.Count + _wildcards.Count + _exceptions.Count;

    /// <summary>Reads a list in the publicsuffix.org format (Debian: <c>/usr/share/publicsuffix/public_suffix_list.dat</c>).</summary>
    public static PublicSuffixList Load(string path) => Parse(File.ReadLines(path));

    /// <summary>Parses list lines: one rule per line, <c>//</c> comments, <c>*.</c> wildcards, <c>!</c> exceptions.</summary>
    public static PublicSuffixList Parse(IEnumerable<string> lines)
    {
        var rules = new HashSet<string>(StringComparer.Ordinal);
        var wildcards = new HashSet<string>(StringComparer.Ordinal);
        var exceptions = new HashSet<string>(StringComparer.Ordinal);
        foreach (string raw in lines)
        {
            string line = raw.Trim();
            int space = line.IndexOfAny([' ', '\t']);
            if (space >= 0)
            {
                line = line[..space];
            }
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }
            if (line.StartsWith('!'))
            {
                AddAscii(exceptions, line[1..]);
            }
            else if (line.StartsWith("*.", StringComparison.Ordinal))
            {
                AddAscii(wildcards, line[2..]);
            }
            else
            {
                AddAscii(rules, line);
            }
        }
        return new PublicSuffixList(rules, wildcards, exceptions);
    }

    private static void AddAscii(HashSet<string> set, string rule)
    {
        string? ascii = ToAscii(rule);
        if (ascii is not null)
        {
            set.Add(ascii);
        }
    }

    /// <summary>
    /// The registrable domain (public suffix plus one label) of <paramref name="domain"/>, lower-cased; null when
    /// the name is itself a public suffix, or is not a usable name (empty label, leading dot).
    /// </summary>
    public string? GetRegistrableDomain(string? domain)
    {
        if (string.IsNullOrEmpty(domain))
        {
            return null;
        }
        string lower = domain.ToLowerInvariant();
        if (lower.EndsWith('.'))
        {
            lower = lower[..^1];
        }
        string[] labels = lower.Split('.');
        if (labels.Any(l => l.Length == 0))
        {
            return null;
        }
        var ascii = new string[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            string? a = ToAscii(labels[i]);
            if (a is null)
            {
                return null;
            }
            ascii[i] = a;
        }
        int suffixLabels = PublicSuffixLabels(ascii);
        if (suffixLabels >= labels.Length)
        {
            return null;
        }
        return string.Join('.', labels[(labels.Length - suffixLabels - 1)..]);
    }

    /// <summary>The public suffix of <paramref name="domain"/> (lower-cased), or null for an unusable name.</summary>
    public string? GetPublicSuffix(string domain)
    {
        string[] labels = domain.ToLowerInvariant().TrimEnd('.').Split('.');
        if (labels.Any(l => l.Length == 0))
        {
            return null;
        }
        string?[] ascii = labels.Select(ToAscii).ToArray();
        if (ascii.Any(a => a is null))
        {
            return null;
        }
        int n = Math.Min(PublicSuffixLabels(ascii!), labels.Length);
        return string.Join('.', labels[^n..]);
    }

    /// <summary>How many rightmost labels form the public suffix (publicsuffix.org "Algorithm").</summary>
    private int PublicSuffixLabels(string[] labels)
    {
        int n = labels.Length;
        // An exception rule prevails over every other match; its public suffix is the rule minus its first label.
        for (int i = 0; i < n; i++)
        {
            if (_exceptions.Contains(string.Join('.', labels[i..])))
            {
                return n - i - 1;
            }
        }
        int best = 1; // the implicit "*" rule
        for (int i = 0; i < n; i++)
        {
            string suffix = string.Join('.', labels[i..]);
            if (_rules.Contains(suffix))
            {
                best = Math.Max(best, n - i);
            }
            if (i > 0 && _wildcards.Contains(suffix))
            {
                best = Math.Max(best, n - i + 1);
            }
        }
        return best;
    }

    private static string? ToAscii(string label)
    {
        if (label.All(c => c < 0x80))
        {
            return label.ToLowerInvariant();
        }
        try
        {
            return Idn.GetAscii(label).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
