using System.Collections.Concurrent;

namespace ContentFilter.Checks.Dkim;

/// <summary>Loads private keys on first use and again when the file changes (key rotation without a restart), refusing unsafe ones.</summary>
/// <remarks>
/// A change is noticed by the file's modification time, looked at no more than once per <see cref="RecheckInterval"/>
/// per file: a <c>stat</c> per signed message was a measurable part of signing's cost, and a replaced key takes
/// effect within a second either way.
/// </remarks>
public sealed class DkimKeyStore
{
    /// <summary>How long a loaded key is used before its file's modification time is looked at again.</summary>
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(1);

    private readonly bool _requireSafeKeys;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);

    /// <summary>Creates the store.</summary>
    public DkimKeyStore(bool requireSafeKeys, TimeProvider? time = null)
    {
        _requireSafeKeys = requireSafeKeys;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Gets the key in <paramref name="path"/>.</summary>
    /// <exception cref="DkimKeyException">The file is unsafe, unreadable or holds no usable key.</exception>
    public DkimPrivateKey Get(string path)
    {
        long now = _time.GetTimestamp();
        if (_cache.TryGetValue(path, out Entry? cached) && _time.GetElapsedTime(cached.CheckedAt, now) < RecheckInterval)
        {
            return cached.Key;
        }
        DateTime stamp;
        try
        {
            stamp = File.GetLastWriteTimeUtc(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DkimKeyException($"cannot read key file {path}: {e.Message}", e);
        }
        if (cached is not null && cached.Stamp == stamp)
        {
            _cache[path] = cached with { CheckedAt = now };
            return cached.Key;
        }
        DkimPrivateKey key = LoadChecked(path, _requireSafeKeys);
        _cache[path] = new Entry(stamp, key, now);
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

    private sealed record Entry(DateTime Stamp, DkimPrivateKey Key, long CheckedAt);
}
