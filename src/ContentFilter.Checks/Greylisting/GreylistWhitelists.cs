using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace ContentFilter.Checks.Greylisting;

/// <summary>postgrey's client and recipient whitelists, read from files in postgrey's format (PROTOCOLS.md §6).</summary>
/// <remarks>
/// <para>Existing <c>postgrey_whitelist_clients</c> / <c>postgrey_whitelist_recipients</c> files (and their
/// <c>.local</c> companions) work unchanged. <c>#</c> starts a comment; blank lines are ignored.</para>
/// <para>Clients: <c>/regex/</c> (case-insensitive, against the client name), an IPv4 address or CIDR network,
/// <c>a.b.c</c> (that /24), an IPv6 address or network, or a host name (that name and every name under it,
/// against the client name). Like postgrey's code, a shorter partial address such as <c>a.b</c> is read as the
/// /24 <c>a.b.0.0/24</c>, not the /16 its documentation suggests.</para>
/// <para>Recipients: <c>/regex/</c> (whole address), <c>user@domain</c> and <c>user@</c> (both also match
/// <c>user+ext</c>), or <c>domain</c> (with subdomains).</para>
/// <para>An instance is immutable: a reload builds a new one and swaps it in, so a request never sees half a list.</para>
/// </remarks>
public sealed class GreylistWhitelists
{
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    private readonly List<Regex> _clientPatterns = [];
    private readonly List<string> _clientDomains = [];
    private readonly List<(IPAddress Network, int Prefix)> _clientNetworks = [];
    private readonly List<Regex> _recipientPatterns = [];
    private readonly List<(string User, string? Domain)> _recipientUsers = [];
    private readonly List<string> _recipientDomains = [];

    // What a query is matched with (built once the entries are read): a name's own suffixes are looked up in a set
    // instead of testing every domain, and the /regex/ entries run as one alternation instead of one by one.
    private readonly HashSet<string> _clientDomainSet = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _recipientDomainSet = new(StringComparer.OrdinalIgnoreCase);
    private PatternSet _clientMatcher = PatternSet.None;
    private PatternSet _recipientMatcher = PatternSet.None;

    /// <summary>An empty whitelist.</summary>
    public static GreylistWhitelists Empty { get; } = new();

    /// <summary>Entries read, for the reload log line.</summary>
    public int ClientEntries => _clientPatterns.Count + _clientDomains.Count + _clientNetworks.Count;

    /// <summary>Entries read, for the reload log line.</summary>
    public int RecipientEntries => _recipientPatterns.Count + _recipientUsers.Count + _recipientDomains.Count;

    /// <summary>Reads the files. A missing file ending in <c>.local</c> is skipped silently; other problems become warnings.</summary>
    /// <param name="clientFiles">Client whitelist files.</param>
    /// <param name="recipientFiles">Recipient whitelist files.</param>
    /// <param name="warnings">One line per unreadable file or entry, naming file and line.</param>
    public static GreylistWhitelists Load(IEnumerable<string> clientFiles, IEnumerable<string> recipientFiles, List<string> warnings)
    {
        var lists = new GreylistWhitelists();
        foreach (string file in clientFiles)
        {
            foreach ((int number, string entry) in ReadEntries(file, warnings))
            {
                if (!lists.AddClient(entry))
                {
                    warnings.Add($"{file} line {number}: not a host name, IP address, network or /regex/: {entry}");
                }
            }
        }
        foreach (string file in recipientFiles)
        {
            foreach ((int number, string entry) in ReadEntries(file, warnings))
            {
                if (!lists.AddRecipient(entry))
                {
                    warnings.Add($"{file} line {number}: not an address, user@, domain or /regex/: {entry}");
                }
            }
        }
        lists.Seal();
        return lists;
    }

    /// <summary>Builds lists from entries (tests, or configuration given inline).</summary>
    public static GreylistWhitelists FromEntries(IEnumerable<string> clients, IEnumerable<string> recipients)
    {
        var lists = new GreylistWhitelists();
        foreach (string c in clients)
        {
            if (!lists.AddClient(c))
            {
                throw new FormatException($"not a client whitelist entry: {c}");
            }
        }
        foreach (string r in recipients)
        {
            if (!lists.AddRecipient(r))
            {
                throw new FormatException($"not a recipient whitelist entry: {r}");
            }
        }
        lists.Seal();
        return lists;
    }

    /// <summary>True when the client is whitelisted by name or address.</summary>
    public bool MatchesClient(string clientName, IPAddress clientAddress)
    {
        if (IsDomainOrSubdomain(clientName, _clientDomainSet) || _clientMatcher.IsMatch(clientName))
        {
            return true;
        }
        if (_clientNetworks.Count == 0)
        {
            return false;
        }
        IPAddress address = ClientNetwork.Canonical(clientAddress);
        foreach ((IPAddress network, int prefix) in _clientNetworks)
        {
            if (InNetwork(address, network, prefix))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>True when the recipient is whitelisted.</summary>
    public bool MatchesRecipient(string recipient)
    {
        int at = recipient.LastIndexOf('@');
        ReadOnlySpan<char> user = at < 0 ? recipient : recipient.AsSpan(0, at);
        ReadOnlySpan<char> domain = at < 0 ? [] : recipient.AsSpan(at + 1);
        foreach ((string u, string? d) in _recipientUsers)
        {
            // user, or user+extension
            bool userMatches = user.StartsWith(u, StringComparison.OrdinalIgnoreCase) && (user.Length == u.Length || user[u.Length] == '+');
            if (userMatches && (d is null || (at >= 0 && domain.Equals(d, StringComparison.OrdinalIgnoreCase))))
            {
                return true;
            }
        }
        if (at >= 0 && IsDomainOrSubdomain(domain, _recipientDomainSet))
        {
            return true;
        }
        return _recipientMatcher.IsMatch(recipient);
    }

    private static IEnumerable<(int Number, string Entry)> ReadEntries(string file, List<string> warnings)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException && file.EndsWith(".local", StringComparison.Ordinal))
        {
            yield break;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            warnings.Add($"{file}: cannot read: {ex.Message}");
            yield break;
        }
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            int hash = line.IndexOf('#');
            if (hash >= 0)
            {
                line = line[..hash];
            }
            line = line.Trim();
            if (line.Length > 0)
            {
                yield return (i + 1, line);
            }
        }
    }

    private bool AddClient(string entry)
    {
        if (TryRegex(entry, out Regex? regex))
        {
            _clientPatterns.Add(regex);
            return true;
        }
        if (TryNetwork(entry, out IPAddress? network, out int prefix))
        {
            _clientNetworks.Add((network, prefix));
            return true;
        }
        if (IsHostName(entry))
        {
            _clientDomains.Add(entry.TrimEnd('.'));
            _clientDomainSet.Add(entry.TrimEnd('.'));
            return true;
        }
        return false;
    }

    private bool AddRecipient(string entry)
    {
        if (TryRegex(entry, out Regex? regex))
        {
            _recipientPatterns.Add(regex);
            return true;
        }
        if (entry.Any(char.IsWhiteSpace))
        {
            return false;
        }
        int at = entry.IndexOf('@');
        if (at == 0 || (at > 0 && entry.IndexOf('@', at + 1) >= 0))
        {
            return false;
        }
        if (at > 0)
        {
            string domain = entry[(at + 1)..];
            _recipientUsers.Add((entry[..at], domain.Length == 0 ? null : domain));
            return true;
        }
        if (IsHostName(entry))
        {
            _recipientDomains.Add(entry.TrimEnd('.'));
            _recipientDomainSet.Add(entry.TrimEnd('.'));
            return true;
        }
        return false;
    }

    private static bool TryRegex(string entry, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Regex? regex)
    {
        regex = null;
        if (entry.Length < 3 || entry[0] != '/' || entry[^1] != '/')
        {
            return false;
        }
        try
        {
            regex = new Regex(entry[1..^1], RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RegexTimeout);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static bool TryNetwork(string entry, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? network, out int prefix)
    {
        network = null;
        prefix = 0;
        string address = entry;
        int? given = null;
        int slash = entry.IndexOf('/');
        if (slash >= 0)
        {
            if (!int.TryParse(entry.AsSpan(slash + 1), System.Globalization.NumberStyles.None, null, out int p))
            {
                return false;
            }
            given = p;
            address = entry[..slash];
        }

        if (address.Contains(':'))
        {
            if (!IPAddress.TryParse(address, out IPAddress? v6) || v6.AddressFamily != AddressFamily.InterNetworkV6 || given > 128)
            {
                return false;
            }
            network = v6;
            prefix = given ?? 128;
            return true;
        }

        string[] octets = address.Split('.');
        if (octets.Length is < 1 or > 4 || octets.Any(o => o.Length is < 1 or > 3 || !o.All(char.IsAsciiDigit) || int.Parse(o, System.Globalization.CultureInfo.InvariantCulture) > 255))
        {
            return false;
        }
        if (octets.Length < 4)
        {
            if (given is not null)
            {
                return false;
            }
            // postgrey's code: a partial address is a /24 whatever its length.
            network = IPAddress.Parse(string.Join('.', octets.Concat(Enumerable.Repeat("0", 4 - octets.Length))));
            prefix = 24;
            return true;
        }
        if (given > 32)
        {
            return false;
        }
        network = IPAddress.Parse(address);
        prefix = given ?? 32;
        return true;
    }

    private static bool InNetwork(IPAddress address, IPAddress network, int prefix)
    {
        if (address.AddressFamily != network.AddressFamily)
        {
            return false;
        }
        Span<byte> a = stackalloc byte[16];
        Span<byte> n = stackalloc byte[16];
        address.TryWriteBytes(a, out int length);
        network.TryWriteBytes(n, out _);
        int full = prefix / 8;
        if (!a[..full].SequenceEqual(n[..full]))
        {
            return false;
        }
        int rest = prefix % 8;
        if (rest == 0 || full >= length)
        {
            return true;
        }
        int mask = 0xFF << (8 - rest) & 0xFF;
        return (a[full] & mask) == (n[full] & mask);
    }

    private static bool IsHostName(string entry)
    {
        string name = entry.TrimEnd('.');
        if (name.Length == 0 || name.Length > 253)
        {
            return false;
        }
        foreach (string label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || !label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The name is one of the domains or under one: the name and each of its parent names, looked up in the set.</summary>
    private static bool IsDomainOrSubdomain(ReadOnlySpan<char> name, HashSet<string> domains)
    {
        if (domains.Count == 0)
        {
            return false;
        }
        HashSet<string>.AlternateLookup<ReadOnlySpan<char>> lookup = domains.GetAlternateLookup<ReadOnlySpan<char>>();
        ReadOnlySpan<char> rest = name;
        while (true)
        {
            if (lookup.Contains(rest))
            {
                return true;
            }
            int dot = rest.IndexOf('.');
            if (dot < 0)
            {
                return false;
            }
            rest = rest[(dot + 1)..];
        }
    }

    private void Seal()
    {
        _clientMatcher = PatternSet.Create(_clientPatterns);
        _recipientMatcher = PatternSet.Create(_recipientPatterns);
    }

    private static bool SafeMatch(Regex pattern, string input)
    {
        try
        {
            return pattern.IsMatch(input);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>Several /regex/ entries matched as one: true when any of them matches.</summary>
    /// <remarks>
    /// The entries are joined as <c>(?:a)|(?:b)|...</c> and compiled once, so a client name is scanned once rather
    /// than once per entry (postgrey's stock list has about 30). An entry whose meaning could change inside the
    /// alternation (a backreference, whose group number would shift; inline options, conditionals and comments,
    /// written <c>(?</c> and a letter, <c>#</c>, <c>(</c>, <c>-</c> or a quote) is matched on its own. If the joined
    /// expression times out, each entry is tried alone, as before, so one pathological entry cannot hide the others.
    /// </remarks>
    private sealed class PatternSet
    {
        public static readonly PatternSet None = new(null, [], []);

        private readonly Regex? _joined;
        private readonly Regex[] _alone;
        private readonly Regex[] _all;

        private PatternSet(Regex? joined, Regex[] alone, Regex[] all)
        {
            _joined = joined;
            _alone = alone;
            _all = all;
        }

        public static PatternSet Create(List<Regex> patterns)
        {
            if (patterns.Count == 0)
            {
                return None;
            }
            List<Regex> joinable = patterns.Where(p => CanJoin(p.ToString())).ToList();
            Regex[] alone = patterns.Where(p => !CanJoin(p.ToString())).ToArray();
            Regex? joined = joinable.Count switch
            {
                0 => null,
                1 => joinable[0],
                _ => new Regex(
                    string.Join('|', joinable.Select(p => "(?:" + p + ")")),
                    RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled,
                    RegexTimeout),
            };
            return new PatternSet(joined, alone, patterns.ToArray());
        }

        public bool IsMatch(string input)
        {
            if (_joined is not null)
            {
                try
                {
                    if (_joined.IsMatch(input))
                    {
                        return true;
                    }
                }
                catch (RegexMatchTimeoutException)
                {
                    return _all.Any(p => SafeMatch(p, input));
                }
            }
            foreach (Regex pattern in _alone)
            {
                if (SafeMatch(pattern, input))
                {
                    return true;
                }
            }
            return false;
        }

        private static bool CanJoin(string pattern)
        {
            for (int i = 0; i < pattern.Length - 1; i++)
            {
                char next = pattern[i + 1];
                if (pattern[i] == '\\')
                {
                    if (char.IsAsciiDigit(next) || next == 'k')
                    {
                        return false;
                    }
                    i++; // an escaped character, whatever it is
                }
                else if (pattern[i] == '(' && next == '?' && i + 2 < pattern.Length && (char.IsAsciiLetter(pattern[i + 2]) || pattern[i + 2] is '#' or '\'' or '-' or '('))
                {
                    return false;
                }
            }
            return true;
        }
    }
}
