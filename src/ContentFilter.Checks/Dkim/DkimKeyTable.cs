namespace ContentFilter.Checks.Dkim;

/// <summary>OpenDKIM's KeyTable: <c>keyname  domain:selector:keyfile</c> per line (opendkim.conf(5), PROTOCOLS.md §9).</summary>
/// <remarks>
/// <c>%</c> as the domain means the From domain of the message being signed. A value starting with <c>/</c>,
/// <c>./</c> or <c>../</c> is a key file path, anything else an inline base64 key. The <c>file:</c> dataset
/// prefix is accepted; other dataset types (db, ldap, sql) are not supported and fail the load.
/// </remarks>
public sealed class DkimKeyTable
{
    private readonly Dictionary<string, DkimKeyTableEntry> _entries;

    private DkimKeyTable(Dictionary<string, DkimKeyTableEntry> entries) => _entries = entries;

    /// <summary>Entries by key name.</summary>
    public IReadOnlyDictionary<string, DkimKeyTableEntry> Entries => _entries;

    /// <summary>Loads a KeyTable file; relative key paths are relative to the table's folder.</summary>
    /// <exception cref="FormatException">A line is malformed (the line number is in the message).</exception>
    public static DkimKeyTable Load(string path)
    {
        path = StripDatasetPrefix(path);
        string dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return Parse(File.ReadAllLines(path), dir, path);
    }

    /// <summary>Parses KeyTable lines.</summary>
    public static DkimKeyTable Parse(IEnumerable<string> lines, string baseDirectory, string source = "KeyTable")
    {
        var entries = new Dictionary<string, DkimKeyTableEntry>(StringComparer.OrdinalIgnoreCase);
        int n = 0;
        foreach (string raw in lines)
        {
            n++;
            string line = StripComment(raw).Trim();
            if (line.Length == 0)
            {
                continue;
            }
            string[] kv = line.Split([' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries);
            string[] parts = kv.Length == 2 ? kv[1].Trim().Split(':', 3) : [];
            if (parts.Length != 3 || parts.Any(p => p.Length == 0))
            {
                throw new FormatException($"{source} line {n}: expected 'keyname domain:selector:keyfile'");
            }
            string key = parts[2];
            bool isPath = key.StartsWith('/') || key.StartsWith("./", StringComparison.Ordinal) || key.StartsWith("../", StringComparison.Ordinal);
            entries[kv[0]] = new DkimKeyTableEntry(kv[0], parts[0], parts[1], isPath ? Path.GetFullPath(key, baseDirectory) : null, isPath ? null : key);
        }
        return new DkimKeyTable(entries);
    }

    internal static string StripDatasetPrefix(string path)
    {
        if (path.StartsWith("file:", StringComparison.Ordinal))
        {
            return path[5..];
        }
        int colon = path.IndexOf(':');
        if (colon > 0 && !path.StartsWith('/') && path[..colon].All(char.IsAsciiLetter) && path[..colon] != "refile")
        {
            throw new FormatException($"dataset type '{path[..colon]}:' is not supported; use a flat file");
        }
        return path;
    }

    internal static string StripComment(string line)
    {
        int hash = line.IndexOf('#');
        return hash < 0 ? line : line[..hash];
    }
}
