using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Dmarc;

/// <summary>Organisational domains (RFC 7489 §3.2) from the Public Suffix List, or "last two labels" without one.</summary>
public sealed partial class OrganizationalDomain
{
    private readonly PublicSuffixList? _list;

    /// <summary>Loads the list named by <see cref="DmarcOptions.PublicSuffixListPath"/>; logs a warning and falls back when it is missing.</summary>
    public OrganizationalDomain(DmarcOptions options, ILogger<OrganizationalDomain> logger)
    {
        if (File.Exists(options.PublicSuffixListPath))
        {
            _list = PublicSuffixList.Load(options.PublicSuffixListPath);
            Log.Loaded(logger, options.PublicSuffixListPath, _list.RuleCount);
        }
        else
        {
            Log.Missing(logger, options.PublicSuffixListPath);
        }
    }

    /// <summary>Uses the given list (null: the two-label fallback).</summary>
    public OrganizationalDomain(PublicSuffixList? list)
    {
        _list = list;
    }

    /// <summary>True when a list is loaded.</summary>
    public bool HasList => _list is not null;

    /// <summary>The organisational domain of <paramref name="domain"/> (lower-cased); the name itself when it is a public suffix or unusable.</summary>
    public string Get(string domain)
    {
        string d = domain.TrimEnd('.').ToLowerInvariant();
        if (_list is not null)
        {
            return _list.GetRegistrableDomain(d) ?? d;
        }
        string[] labels = d.Split('.');
        return labels.Length <= 2 ? d : string.Join('.', labels[^2..]);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6301, Level = LogLevel.Information, Message = "Public Suffix List {Path}: {Rules} rules")]
        public static partial void Loaded(ILogger logger, string path, int rules);

        [LoggerMessage(EventId = 6302, Level = LogLevel.Warning, Message = "Public Suffix List {Path} not found: DMARC uses the last two labels as organisational domain (wrong for suffixes like co.uk). Install the publicsuffix package or set Dmarc:PublicSuffixListPath")]
        public static partial void Missing(ILogger logger, string path);
    }
}
