using System.Collections.Concurrent;

namespace ContentFilter.Checks.Dkim;

/// <summary>Loads private keys on first use and again when the file changes (key rotation without a restart), refusing unsafe ones.</summary>
public sealed class DkimKeyStore
{
    private readonly bool _requireSafeKeys;
    private readonly ConcurrentDictionary<string, (DateTime Stamp, DkimPrivateKey Key)> _cache = new(StringComparer.Ordinal);

    /// <summary>Creates the store.</summary>
    public DkimKeyStore(bool requireSafeKeys) => _requireSafeKeys = requireSafeKeys;

    /// <summary>Gets the key in <paramref name="path"/>.</summary>
    /// <exception cref="DkimKeyException">The file is unsafe, unreadable or holds no usable key.</exception>
    public DkimPrivateKey Get(string path)
    {
        DateTime stamp;
        try
        {
            stamp = File.GetLastWriteTimeUtc(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DkimKeyException($"cannot read key file {path}: {e.Message}", e);
        }
        if (_cache.TryGetValue(path, out var cached) && cached.Stamp == stamp)
        {
            return cached.Key;
        }
        DkimPrivateKey key = LoadChecked(path, _requireSafeKeys);
        _cache[path] = (stamp, key);
        return key;
    }

    /// <summary>Loads a key after the safety check.</summary>
    /// <exception cref="DkimKeyException">As for <see cref="Get"/>.</exception>
    public static DkimPrivateKey LoadChecked(string path, bool requireSafeKeys)
    {
        if (!File.Exists(path))
        {
            throw new DkimKeyException($"key file {path} does not exist");
        }
        if (requireSafeKeys && DkimKeySafety.Check(path) is string unsafeReason)
        {
            throw new DkimKeyException(unsafeReason);
        }
        try
        {
            return DkimPrivateKey.Load(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DkimKeyException($"cannot read key file {path}: {e.Message}", e);
        }
        catch (FormatException e)
        {
            throw new DkimKeyException($"key file {path}: {e.Message}", e);
        }
    }
}
