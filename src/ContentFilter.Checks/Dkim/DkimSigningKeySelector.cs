namespace ContentFilter.Checks.Dkim;

/// <summary>Chooses the signing keys for a From address, from OpenDKIM tables or the simple domain list.</summary>
public sealed class DkimSigningKeySelector
{
    private readonly DkimSigningOptions _options;
    private readonly DkimKeyTable? _keyTable;
    private readonly DkimSigningTable? _signingTable;

    /// <summary>Loads the tables named in <paramref name="options"/>.</summary>
    /// <exception cref="FormatException">A table is malformed or names an unknown key.</exception>
    /// <exception cref="IOException">A table cannot be read.</exception>
    public DkimSigningKeySelector(DkimSigningOptions options)
    {
        _options = options;
        if (options.KeyTable is not null && options.SigningTable is not null)
        {
            _keyTable = DkimKeyTable.Load(options.KeyTable);
            _signingTable = DkimSigningTable.Load(options.SigningTable);
        }
    }

    /// <summary>Every key the configuration can use (for start-up validation), with <c>%</c> left unresolved.</summary>
    public IEnumerable<DkimKeyChoice> AllKeys()
    {
        if (_keyTable is not null)
        {
            return _keyTable.Entries.Values.Select(e => new DkimKeyChoice(e.Domain, e.Selector, e.KeyFile, e.InlineKey, null));
        }
        return _options.Domains.Select(d => new DkimKeyChoice(d.SigningDomain ?? d.Domain, d.Selector, d.KeyFile, null, null));
    }

    /// <summary>The keys to sign mail from <paramref name="fromAddress"/> with, in order; empty when none matches.</summary>
    /// <exception cref="FormatException">The SigningTable names a key the KeyTable lacks.</exception>
    public IReadOnlyList<DkimKeyChoice> Select(string fromAddress)
    {
        string fromDomain = fromAddress[(fromAddress.LastIndexOf('@') + 1)..].ToLowerInvariant();
        var result = new List<DkimKeyChoice>();
        if (_keyTable is not null && _signingTable is not null)
        {
            foreach ((string keyName, string? signer) in _signingTable.Lookup(fromAddress, _options.MultipleSignatures))
            {
                if (!_keyTable.Entries.TryGetValue(keyName, out DkimKeyTableEntry? e))
                {
                    throw new FormatException($"SigningTable names key '{keyName}', which the KeyTable does not have");
                }
                string domain = e.Domain == "%" ? fromDomain : e.Domain;
                result.Add(new DkimKeyChoice(domain, e.Selector, e.KeyFile, e.InlineKey, signer?.Replace("%", fromDomain, StringComparison.Ordinal)));
            }
            return result;
        }
        foreach (DkimDomainKey d in _options.Domains)
        {
            if (d.Domain == "*" || d.Domain.Equals(fromDomain, StringComparison.OrdinalIgnoreCase))
            {
                result.Add(new DkimKeyChoice((d.SigningDomain ?? (d.Domain == "*" ? fromDomain : d.Domain)).ToLowerInvariant(), d.Selector, d.KeyFile, null, null));
                if (!_options.MultipleSignatures)
                {
                    break;
                }
            }
        }
        return result;
    }
}
