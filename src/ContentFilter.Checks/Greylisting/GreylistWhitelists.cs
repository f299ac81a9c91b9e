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
        return lists;
    }

    /// <summary>True when the client is whitelisted by name or address.</summary>
    public bool MatchesClient(string clientName, IPAddress clientAddress)
    {
        foreach (string domain in _clientDomains)
        {
            if (IsDomainOrSubdomain(clientName, domain))
            {
                return true;
            }
        }
        foreach (Regex pattern in _clientPatterns)
        {
            if (SafeMatch(pattern, clientName))
            {
                return true;
            }
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
        string user = at < 0 ? recipient : recipient[..at];
        string domain = at < 0 ? "" : recipient[(at + 1)..];
        foreach ((string u, string? d) in _recipientUsers)
        {
            if ((user.Equals(u, StringComparison.OrdinalIgnoreCase) || (user.StartsWith(u + "+", StringComparison.OrdinalIgnoreCase)))
                && (d is null || (at >= 0 && domain.Equals(d, StringComparison.OrdinalIgnoreCase))))
            {
                return true;
            }
        }
        if (at >= 0)
        {
            foreach (string d in _recipientDomains)
            {
                if (IsDomainOrSubdomain(domain, d))
                {
                    return true;
                }
            }
        }
        foreach (Regex pattern in _recipientPatterns)
        {
            if (SafeMatch(pattern, recipient))
            {
                return true;
            }
        }
        return false;
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

    private static bool IsDomainOrSubdomain(string name, string domain)
    {
        return name.Equals(domain, StringComparison.OrdinalIgnoreCase)
            || (name.Length > domain.Length
                && name.EndsWith(domain, StringComparison.OrdinalIgnoreCase)
                && name[name.Length - domain.Length - 1] == '.');
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
}
