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
/// <para>The scripts' bodies are not sent with each query: StackExchange.Redis loads a script once per server
/// (<c>SCRIPT LOAD</c>) and then sends <c>EVALSHA</c> with its hash; when the server has lost it (a restart,
/// <c>SCRIPT FLUSH</c>) the <c>NOSCRIPT</c> reply makes the library send the body once more, and the query is
/// answered all the same (tested against a real redis-server).</para>
/// </remarks>
public sealed class RedisGreylistStore : IGreylistStore
{
    // The rules as Lua functions, shared by the scripts below. Values are "a,b" in Unix seconds.
    private const string Functions = """
        local function pair(v)
          local sep = string.find(v, ',', 1, true)
          return tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
        end
        -- postgrey's triplet update (TripletRules): returns found, lastWasSuccessful, first.
        local function triplet(key, now, delay, window, maxage)
          local found, lws, first = 0, 0, now
          local v = redis.call('GET', key)
          if v then
            local f, l = pair(v)
            if not (now - l > maxage or (l - f < delay and now - l > window)) then
              found = 1
              if l - f >= delay then lws = 1 elseif now - f > window then f = now end
              first = f
            end
          end
          local ttl = window
          if now - first >= delay then ttl = maxage end
          redis.call('SET', key, string.format('%d,%d', first, now), 'EX', ttl + 1)
          return found, lws, first
        end
        -- 1 when the client is auto-whitelisted (and its last-seen time becomes now).
        local function touch(key, now, threshold, maxage)
          local v = redis.call('GET', key)
          if not v then return 0 end
          local count, last = pair(v)
          if now - last > maxage or count < threshold then return 0 end
          redis.call('SET', key, string.format('%d,%d', count, now), 'EX', maxage + 1)
          return 1
        end
        -- The count after counting a pass (at most one per interval).
        local function countpass(key, now, interval, maxage)
          local count = 0
          local v = redis.call('GET', key)
          if v then
            local c, last = pair(v)
            if now - last <= maxage then
              if now - last <= interval then return c end
              count = c
            end
          end
          count = count + 1
          redis.call('SET', key, string.format('%d,%d', count, now), 'EX', maxage + 1)
          return count
        end

        """;

    // KEYS[1] triplet; ARGV now, delay, window, maxage. Returns {found, lastWasSuccessful, first}.
    private const string UpdateTripletScript = Functions + """
        local found, lws, first = triplet(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
        return {found, lws, first}
        """;

    // KEYS[1] client; ARGV now, threshold, maxage. Returns 1 when auto-whitelisted (and refreshes last-seen).
    private const string TouchClientScript = Functions + """
        return touch(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
        """;

    // KEYS[1] client; ARGV now, interval, maxage. Returns the count after counting (at most one per interval).
    private const string CountPassScript = Functions + """
        return countpass(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
        """;

    // One query (IGreylistStore.CheckAsync) in one round trip. KEYS[1] triplet, KEYS[2] client (absent: no
    // auto-whitelist); ARGV now, delay, window, maxage, threshold, interval, checkAutoWhitelist (1/0).
    // Returns {autoWhitelisted, found, lastWasSuccessful, first, passCount}.
    private const string CheckScript = Functions + """
        local now, delay, window, maxage = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local client = KEYS[2]
        if client and ARGV[7] == '1' and touch(client, now, tonumber(ARGV[5]), maxage) == 1 then
          return {1, 0, 0, 0, 0}
        end
        local found, lws, first = triplet(KEYS[1], now, delay, window, maxage)
        local passes = 0
        if client and now - first >= delay and lws == 0 then
          passes = countpass(client, now, tonumber(ARGV[6]), maxage)
        end
        return {0, found, lws, first, passes}
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly bool _ownsConnection;
    private readonly string _prefix;
    private volatile bool _stepwise;

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
    /// <remarks>
    /// One script, so one round trip per query. Both keys go to one server, which a Redis Cluster refuses when they
    /// hash to different slots; then (and from then on) the query falls back to the separate scripts.
    /// </remarks>
    public async ValueTask<GreylistCheckResult> CheckAsync(GreylistCheck check, CancellationToken cancellationToken)
    {
        if (!_stepwise)
        {
            RedisKey[] keys = check.ClientKey is null
                ? [(RedisKey)(_prefix + "t:" + check.TripletKey)]
                : [(RedisKey)(_prefix + "t:" + check.TripletKey), (RedisKey)(_prefix + "c:" + check.ClientKey)];
            RedisResult result;
            try
            {
                result = await _redis.GetDatabase().ScriptEvaluateAsync(
                    CheckScript,
                    keys,
                    [check.Now, check.Timing.Delay, check.Timing.RetryWindow, check.Timing.MaxAge, check.Threshold, check.Timing.AutoWhitelistInterval, check.CheckAutoWhitelist ? 1 : 0])
                    .WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (keys.Length > 1 && IsCrossSlot(ex))
            {
                _stepwise = true;
                return await GreylistChecks.StepwiseAsync(this, check, cancellationToken).ConfigureAwait(false);
            }
            RedisResult[] values = (RedisResult[])result!;
            return (long)values[0] == 1
                ? new GreylistCheckResult(true, default, 0)
                : new GreylistCheckResult(false, new TripletState((long)values[1] == 1, (long)values[2] == 1, (long)values[3]), (int)(long)values[4]);
        }
        return await GreylistChecks.StepwiseAsync(this, check, cancellationToken).ConfigureAwait(false);
    }

    // Cluster: the client library refuses keys of different slots before sending, the server with CROSSSLOT.
    private static bool IsCrossSlot(Exception ex)
        => (ex is RedisServerException && ex.Message.StartsWith("CROSSSLOT", StringComparison.Ordinal))
           || (ex is RedisCommandException && ex.Message.Contains("slot", StringComparison.OrdinalIgnoreCase));

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
