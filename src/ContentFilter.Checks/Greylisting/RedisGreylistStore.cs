using StackExchange.Redis;

namespace ContentFilter.Checks.Greylisting;

/// <summary>The shared store: Redis, so several MX hosts see one greylist (a retry may reach another MX).</summary>
/// <remarks>
/// <para>Each operation is one Lua script, which Redis runs atomically: two MX hosts updating a triplet at the
/// same moment cannot lose the first-seen time. Values are <c>first,last</c> (triplets) and <c>count,last</c>
/// (clients) in Unix seconds.</para>
/// <para>Every write sets an expiry (the retry window for a never-passed triplet, max age otherwise), so Redis
/// drops old records by itself and no cleanup job is needed. Keys are <c>{prefix}t:{triplet}</c> and
/// <c>{prefix}c:{client}</c>.</para>
/// </remarks>
public sealed class RedisGreylistStore : IGreylistStore
{
    // KEYS[1] triplet; ARGV now, delay, window, maxage. Returns {found, lastWasSuccessful, first}. TripletRules in Lua.
    private const string UpdateTripletScript = """
        local now = tonumber(ARGV[1]); local delay = tonumber(ARGV[2]); local window = tonumber(ARGV[3]); local maxage = tonumber(ARGV[4])
        local found, lws, first = 0, 0, now
        local v = redis.call('GET', KEYS[1])
        if v then
          local sep = string.find(v, ',', 1, true)
          local f = tonumber(string.sub(v, 1, sep - 1)); local l = tonumber(string.sub(v, sep + 1))
          if not (now - l > maxage or (l - f < delay and now - l > window)) then
            found = 1
            if l - f >= delay then lws = 1 elseif now - f > window then f = now end
            first = f
          end
        end
        local ttl = window
        if now - first >= delay then ttl = maxage end
        redis.call('SET', KEYS[1], string.format('%d,%d', first, now), 'EX', ttl + 1)
        return {found, lws, first}
        """;

    // KEYS[1] client; ARGV now, threshold, maxage. Returns 1 when auto-whitelisted (and refreshes last-seen).
    private const string TouchClientScript = """
        local now = tonumber(ARGV[1]); local threshold = tonumber(ARGV[2]); local maxage = tonumber(ARGV[3])
        local v = redis.call('GET', KEYS[1])
        if not v then return 0 end
        local sep = string.find(v, ',', 1, true)
        local count = tonumber(string.sub(v, 1, sep - 1)); local last = tonumber(string.sub(v, sep + 1))
        if now - last > maxage or count < threshold then return 0 end
        redis.call('SET', KEYS[1], string.format('%d,%d', count, now), 'EX', maxage + 1)
        return 1
        """;

    // KEYS[1] client; ARGV now, interval, maxage. Returns the count after counting (at most one per interval).
    private const string CountPassScript = """
        local now = tonumber(ARGV[1]); local interval = tonumber(ARGV[2]); local maxage = tonumber(ARGV[3])
        local count = 0
        local v = redis.call('GET', KEYS[1])
        if v then
          local sep = string.find(v, ',', 1, true)
          local c = tonumber(string.sub(v, 1, sep - 1)); local last = tonumber(string.sub(v, sep + 1))
          if now - last <= maxage then
            if now - last <= interval then return c end
            count = c
          end
        end
        count = count + 1
        redis.call('SET', KEYS[1], string.format('%d,%d', count, now), 'EX', maxage + 1)
        return count
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly bool _ownsConnection;
    private readonly string _prefix;

    /// <summary>Uses an existing connection (not disposed by the store).</summary>
    public RedisGreylistStore(IConnectionMultiplexer redis, string keyPrefix)
    {
        _redis = redis;
        _prefix = keyPrefix;
    }

    private RedisGreylistStore(IConnectionMultiplexer redis, string keyPrefix, bool owns)
        : this(redis, keyPrefix)
    {
        _ownsConnection = owns;
    }

    /// <summary>Connects with a StackExchange.Redis configuration string (e.g. <c>127.0.0.1:6379</c>).</summary>
    /// <remarks><c>abortConnect=false</c>: a Redis that is down at start-up gives failed queries (Postfix's default action), not a dead service.</remarks>
    public static async Task<RedisGreylistStore> ConnectAsync(string configuration, string keyPrefix)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        return new RedisGreylistStore(redis, keyPrefix, owns: true);
    }

    /// <inheritdoc />
    public async ValueTask<TripletState> UpdateTripletAsync(string key, long now, GreylistTiming timing, CancellationToken cancellationToken)
    {
        RedisResult result = await _redis.GetDatabase().ScriptEvaluateAsync(
            UpdateTripletScript,
            [(RedisKey)(_prefix + "t:" + key)],
            [now, timing.Delay, timing.RetryWindow, timing.MaxAge]).WaitAsync(cancellationToken).ConfigureAwait(false);
        RedisResult[] values = (RedisResult[])result!;
        return new TripletState((long)values[0] == 1, (long)values[1] == 1, (long)values[2]);
    }

    /// <inheritdoc />
    public async ValueTask<bool> TouchAutoWhitelistedAsync(string clientKey, long now, int threshold, GreylistTiming timing, CancellationToken cancellationToken)
    {
        RedisResult result = await _redis.GetDatabase().ScriptEvaluateAsync(
            TouchClientScript,
            [(RedisKey)(_prefix + "c:" + clientKey)],
            [now, threshold, timing.MaxAge]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (long)result == 1;
    }

    /// <inheritdoc />
    public async ValueTask<int> CountPassAsync(string clientKey, long now, GreylistTiming timing, CancellationToken cancellationToken)
    {
        RedisResult result = await _redis.GetDatabase().ScriptEvaluateAsync(
            CountPassScript,
            [(RedisKey)(_prefix + "c:" + clientKey)],
            [now, timing.AutoWhitelistInterval, timing.MaxAge]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (int)(long)result;
    }

    /// <inheritdoc />
    /// <remarks>Keys carry their own expiry: nothing to do.</remarks>
    public ValueTask<int> ExpireAsync(long now, GreylistTiming timing, CancellationToken cancellationToken) => ValueTask.FromResult(0);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_ownsConnection)
        {
            await _redis.DisposeAsync().ConfigureAwait(false);
        }
    }
}
