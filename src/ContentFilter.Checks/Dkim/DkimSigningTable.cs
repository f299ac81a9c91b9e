using System.Text.RegularExpressions;

namespace ContentFilter.Checks.Dkim;

/// <summary>OpenDKIM's SigningTable: which key names sign mail from which From: address (opendkim.conf(5), PROTOCOLS.md §9).</summary>
/// <remarks>
/// With <c>refile:</c> the first column is a pattern where <c>*</c> matches anything, tried in file order against
/// the full address. Otherwise the lookups are exact, in OpenDKIM's order: <c>user@host</c>, <c>host</c>, then for
/// each parent domain <c>user@.parent</c> and <c>.parent</c>, then <c>user@*</c> and <c>*</c>. The first match wins
/// unless multiple signatures are wanted. The value is the key name, optionally followed (after white space or a
/// colon) by the signer identity for <c>i=</c>.
/// </remarks>
public sealed class DkimSigningTable
{
    private readonly List<(string Pattern, Regex? Regex, string KeyName, string? Signer)> _rows;
    private readonly bool _wildcards;

    private DkimSigningTable(List<(string, Regex?, string, string?)> rows, bool wildcards)
    {
        _rows = rows;
        _wildcards = wildcards;
    }

    /// <summary>True when loaded with <c>refile:</c>.</summary>
    public bool UsesWildcards => _wildcards;

    /// <summary>Loads the table from <paramref name="spec"/>: a path, <c>file:</c>path or <c>refile:</c>path.</summary>
    public static DkimSigningTable Load(string spec)
    {
        bool wildcards = spec.StartsWith("refile:", StringComparison.Ordinal);
        string path = wildcards ? spec[7..] : DkimKeyTable.StripDatasetPrefix(spec);
        return Parse(File.ReadAllLines(path), wildcards, path);
    }

    /// <summary>Parses table lines.</summary>
    public static DkimSigningTable Parse(IEnumerable<string> lines, bool wildcards, string source = "SigningTable")
    {
        var rows = new List<(string, Regex?, string, string?)>();
        int n = 0;
        foreach (string raw in lines)
        {
            n++;
            string line = DkimKeyTable.StripComment(raw).Trim();
            if (line.Length == 0)
            {
                continue;
            }
            string[] parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length is < 2 or > 3)
            {
                throw new FormatException($"{source} line {n}: expected 'pattern keyname [signer]'");
            }
            string keyName = parts[1];
            string? signer = parts.Length == 3 ? parts[2] : null;
            int colon = keyName.IndexOf(':');
            if (signer is null && colon > 0)
            {
                signer = keyName[(colon + 1)..];
                keyName = keyName[..colon];
            }
            Regex? regex = wildcards
                ? new Regex("^" + Regex.Escape(parts[0]).Replace("\\*", ".*") + "$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))
                : null;
            rows.Add((parts[0], regex, keyName, signer));
        }
        return new DkimSigningTable(rows, wildcards);
    }

    /// <summary>The key names (and optional signer) for a From address, in match order.</summary>
    public IReadOnlyList<(string KeyName, string? Signer)> Lookup(string address, bool all)
    {
        var result = new List<(string, string?)>();
        address = address.Trim().ToLowerInvariant();
        int at = address.LastIndexOf('@');
        string user = at < 0 ? string.Empty : address[..at];
        string host = at < 0 ? address : address[(at + 1)..];
        if (_wildcards)
        {
            foreach ((string _, Regex? regex, string keyName, string? signer) in _rows)
            {
                if (regex!.IsMatch(address))
                {
                    result.Add((keyName, signer));
                    if (!all)
                    {
                        break;
                    }
                }
            }
            return result;
        }
        var keys = new List<string> { $"{user}@{host}", host };
        string parent = host;
        while (true)
        {
            int dot = parent.IndexOf('.');
            if (dot < 0)
            {
                break;
            }
            parent = parent[(dot + 1)..];
            keys.Add($"{user}@.{parent}");
            keys.Add("." + parent);
        }
        keys.Add($"{user}@*");
        keys.Add("*");
        foreach (string key in keys)
        {
            foreach ((string pattern, Regex? _, string keyName, string? signer) in _rows)
            {
                if (pattern.Equals(key, StringComparison.OrdinalIgnoreCase))
                {
                    result.Add((keyName, signer));
                    if (!all)
                    {
                        return result;
                    }
                }
            }
        }
        return result;
    }
}
