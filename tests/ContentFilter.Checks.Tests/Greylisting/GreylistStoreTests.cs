using System.Net;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Pipeline.Greylisting;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace ContentFilter.Checks.Tests.Greylisting;

/// <summary>Store behaviour that the table cannot show: sharing, atomicity, what is stored, expiry.</summary>
public class GreylistStoreTests : IClassFixture<GreylistStoreFixture>
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly GreylistRequest Request = new(IPAddress.Parse("192.0.2.10"), "mail.example.com", "alice@example.com", "bob@example.net", null, null);

    private readonly GreylistStoreFixture _fixture;

    public GreylistStoreTests(GreylistStoreFixture fixture)
    {
        _fixture = fixture;
    }

    private static GreylistEngine Engine(IGreylistStore store, TimeProvider time, Action<GreylistOptions>? configure = null)
    {
        var options = new GreylistOptions { HostName = "mx.test", WhitelistClientFiles = [], WhitelistRecipientFiles = [] };
        configure?.Invoke(options);
        return new GreylistEngine(options, store, [], time, NullLogger<GreylistEngine>.Instance);
    }

    [SkippableFact]
    public async Task Redis_TwoMxHostsShareOneGreylist_RetryAtSecondHostPasses()
    {
        Skip.If(_fixture.Redis is null, "redis-server is not installed");
        string prefix = GreylistStoreFixture.NewPrefix();
        var time = new FakeTimeProvider(Start);
        await using IGreylistStore storeA = await RedisGreylistStore.ConnectAsync(_fixture.Redis!.Configuration, prefix);
        await using IGreylistStore storeB = await RedisGreylistStore.ConnectAsync(_fixture.Redis.Configuration, prefix);
        GreylistEngine mx1 = Engine(storeA, time);
        GreylistEngine mx2 = Engine(storeB, time);

        GreylistDecision first = await mx1.CheckAsync(Request, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(60));
        GreylistDecision early = await mx2.CheckAsync(Request, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(240));
        GreylistDecision retry = await mx2.CheckAsync(Request with { ClientAddress = IPAddress.Parse("192.0.2.11") }, CancellationToken.None);

        Assert.Equal((GreylistAction.Defer, "new"), (first.Action, first.Reason));
        Assert.Equal((GreylistAction.Defer, "early-retry (240s missing)"), (early.Action, early.Reason));
        Assert.Equal((GreylistAction.Pass, "triplet found"), (retry.Action, retry.Reason));
        Assert.StartsWith("X-Greylist: delayed 300 seconds", retry.PrependHeader);
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("redis")]
    public async Task Store_ConcurrentFirstTries_ExactlyOneIsNew(string kind)
    {
        string path = _fixture.NewSqlitePath();
        string prefix = GreylistStoreFixture.NewPrefix();
        var time = new FakeTimeProvider(Start);
        await using IGreylistStore a = await _fixture.OpenAsync(kind, path, prefix);
        // Redis: two stores on one server, as two hosts. SQLite: two engines on the one store a file may have.
        await using IGreylistStore? second = kind == "redis" ? await _fixture.OpenAsync(kind, path, prefix) : null;
        IGreylistStore b = second ?? a;
        GreylistEngine[] engines = [Engine(a, time), Engine(b, time)];

        GreylistDecision[] decisions = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Task.Run(() => engines[i % 2].CheckAsync(Request, CancellationToken.None))));

        Assert.Single(decisions, d => d.Reason == "new");
        Assert.Equal(39, decisions.Count(d => d.Reason == "early-retry (300s missing)"));
    }

    [Fact]
    public async Task Sqlite_ASecondStoreOnTheSameFile_IsRefused_UntilTheFirstIsClosed()
    {
        string path = _fixture.NewSqlitePath();
        IGreylistStore first = new SqliteGreylistStore(path);

        IOException refused = Assert.Throws<IOException>(() => new SqliteGreylistStore(path));
        Assert.Contains("is in use by another store", refused.Message, StringComparison.Ordinal);

        await first.DisposeAsync();
        await using IGreylistStore second = new SqliteGreylistStore(path);
    }

    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("redis")]
    public async Task Store_OneStepCheck_DoesWhatTheThreeStepsDo(string kind)
    {
        // The same queries against the store's one-step CheckAsync (one transaction / one script) and against the
        // interface's default (touch, update, count as three operations) on a second, separate store.
        await using IGreylistStore oneStep = await _fixture.OpenAsync(kind);
        await using IGreylistStore threeSteps = new ThreeSteps(await _fixture.OpenAsync(kind));
        var timing = new GreylistTiming(300, 2 * 86400, 35 * 86400, 3600);
        (long At, string Triplet, bool CheckAwl)[] queries =
        [
            (0, "t1", true), (300, "t1", true), // first pass: counted (1)
            (400, "t2", true), (700, "t2", true), // first pass within the hour: not counted again (1)
            (4000, "t3", true), (4300, "t3", true), // counted (2): whitelisted from now on
            (4400, "t4", true), // auto-whitelisted: the triplet is not touched
            (4500, "t4", false), // the caller asked the auto-whitelist itself: t4 is new
            (4500, "t1", true),
        ];
        var results = new List<GreylistCheckResult>();
        foreach ((long at, string triplet, bool checkAwl) in queries)
        {
            var check = new GreylistCheck(triplet, "c1", checkAwl, 2, 1_800_000_000 + at, timing);
            GreylistCheckResult a = await oneStep.CheckAsync(check, CancellationToken.None);
            GreylistCheckResult b = await threeSteps.CheckAsync(check, CancellationToken.None);
            Assert.Equal(b, a);
            results.Add(a);
        }
        GreylistCheckResult noClient = await oneStep.CheckAsync(new GreylistCheck("t5", null, false, 2, 1_800_000_000, timing), CancellationToken.None);

        Assert.Equal([0, 1, 0, 1, 0, 2, 0, 0, 0], results.Select(r => r.PassCount));
        Assert.Equal([false, false, false, false, false, false, true, false, true], results.Select(r => r.AutoWhitelisted));
        Assert.Equal(new TripletState(false, false, 1_800_004_500), results[7].Triplet);
        Assert.Equal(new TripletState(true, false, 1_800_000_000), results[1].Triplet);
        Assert.Equal(new GreylistCheckResult(false, new TripletState(false, false, 1_800_000_000), 0), noClient);
    }

    /// <summary>A store seen only through the three operations (the interface's default <c>CheckAsync</c>).</summary>
    private sealed class ThreeSteps(IGreylistStore inner) : IGreylistStore
    {
        public ValueTask<TripletState> UpdateTripletAsync(string key, long now, GreylistTiming timing, CancellationToken cancellationToken) => inner.UpdateTripletAsync(key, now, timing, cancellationToken);

        public ValueTask<bool> TouchAutoWhitelistedAsync(string clientKey, long now, int threshold, GreylistTiming timing, CancellationToken cancellationToken) => inner.TouchAutoWhitelistedAsync(clientKey, now, threshold, timing, cancellationToken);

        public ValueTask<int> CountPassAsync(string clientKey, long now, GreylistTiming timing, CancellationToken cancellationToken) => inner.CountPassAsync(clientKey, now, timing, cancellationToken);

        public ValueTask<int> ExpireAsync(long now, GreylistTiming timing, CancellationToken cancellationToken) => inner.ExpireAsync(now, timing, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    [SkippableFact]
    public async Task Sqlite_PrivacyOn_NoAddressInTheFile()
    {
        string path = _fixture.NewSqlitePath();
        var time = new FakeTimeProvider(Start);
        await using (IGreylistStore store = await _fixture.OpenAsync("sqlite", path))
        {
            GreylistEngine engine = Engine(store, time, o => { o.Privacy = "hmac-sha256"; o.PrivacyKey = "a-secret-of-enough-length"; });
            await engine.CheckAsync(Request, CancellationToken.None);
            time.Advance(TimeSpan.FromSeconds(300));
            await engine.CheckAsync(Request, CancellationToken.None);
        }

        List<string> keys = ReadSqliteKeys(path);
        Assert.Equal(2, keys.Count);
        Assert.All(keys, k => Assert.Matches("^[0-9a-f]{64}$", k));
        Assert.Contains(new GreylistKeyHasher("hmac-sha256", "a-secret-of-enough-length").Hash("192.0.2/alice@example.com/bob@example.net"), keys);
        Assert.Contains(new GreylistKeyHasher("hmac-sha256", "a-secret-of-enough-length").Hash("192.0.2.10"), keys);
    }

    [SkippableFact]
    public async Task Sqlite_PrivacyOff_PostgreyKeysStored()
    {
        string path = _fixture.NewSqlitePath();
        var time = new FakeTimeProvider(Start);
        await using (IGreylistStore store = await _fixture.OpenAsync("sqlite", path))
        {
            await Engine(store, time).CheckAsync(Request with { Sender = "Bounce-42+x@Example.COM" }, CancellationToken.None);
        }

        Assert.Equal(["192.0.2/bounce-#@example.com/bob@example.net"], ReadSqliteKeys(path));
    }

    [SkippableFact]
    public async Task Redis_PrivacySha256_KeysHashedWithExpiry()
    {
        Skip.If(_fixture.Redis is null, "redis-server is not installed");
        string prefix = GreylistStoreFixture.NewPrefix();
        var time = new FakeTimeProvider(Start);
        await using IGreylistStore store = await RedisGreylistStore.ConnectAsync(_fixture.Redis!.Configuration, prefix);
        GreylistEngine engine = Engine(store, time, o => o.Privacy = "sha256");

        await engine.CheckAsync(Request, CancellationToken.None);

        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(_fixture.Redis.Configuration);
        RedisKey[] keys = redis.GetServer(redis.GetEndPoints()[0]).Keys(pattern: prefix + "*").ToArray();
        RedisKey key = Assert.Single(keys);
        string expected = prefix + "t:" + new GreylistKeyHasher("sha256", "").Hash("192.0.2/alice@example.com/bob@example.net");
        Assert.Equal(expected, (string)key!);
        TimeSpan? ttl = await redis.GetDatabase().KeyTimeToLiveAsync(key);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value.TotalSeconds, 2 * 24 * 3600 - 10, 2 * 24 * 3600 + 1);
    }

    [SkippableFact]
    public async Task Redis_PassedTriplet_KeyLivesForMaxAge()
    {
        Skip.If(_fixture.Redis is null, "redis-server is not installed");
        string prefix = GreylistStoreFixture.NewPrefix();
        var time = new FakeTimeProvider(Start);
        await using IGreylistStore store = await RedisGreylistStore.ConnectAsync(_fixture.Redis!.Configuration, prefix);
        GreylistEngine engine = Engine(store, time);
        await engine.CheckAsync(Request, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(300));
        await engine.CheckAsync(Request, CancellationToken.None);

        await using ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(_fixture.Redis.Configuration);
        IDatabase db = redis.GetDatabase();
        TimeSpan? tripletTtl = await db.KeyTimeToLiveAsync(prefix + "t:192.0.2/alice@example.com/bob@example.net");
        TimeSpan? clientTtl = await db.KeyTimeToLiveAsync(prefix + "c:192.0.2.10");
        Assert.InRange(tripletTtl!.Value.TotalDays, 34.9, 35.01);
        Assert.InRange(clientTtl!.Value.TotalDays, 34.9, 35.01);
        Assert.Equal($"1,{Start.AddSeconds(300).ToUnixTimeSeconds()}", (string?)await db.StringGetAsync(prefix + "c:192.0.2.10"));
    }

    [SkippableFact]
    public async Task Redis_ScriptSentOnceByHash_AndAfterAScriptFlushTheNextQueryStillDecides()
    {
        Skip.If(_fixture.Redis is null, "redis-server is not installed");
        string prefix = GreylistStoreFixture.NewPrefix();
        var time = new FakeTimeProvider(Start);
        await using IGreylistStore store = await RedisGreylistStore.ConnectAsync(_fixture.Redis!.Configuration, prefix);
        GreylistEngine engine = Engine(store, time);
        await using ConnectionMultiplexer admin = await ConnectionMultiplexer.ConnectAsync(_fixture.Redis.Configuration + ",allowAdmin=true");
        IServer server = admin.GetServer(admin.GetEndPoints()[0]);
        GreylistRequest Other(int i) => Request with { Recipient = $"user{i}@example.net" };

        Assert.Equal("new", (await engine.CheckAsync(Request, CancellationToken.None)).Reason);
        (long evals, long hashed) = await ScriptCallsAsync(server);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("new", (await engine.CheckAsync(Other(i), CancellationToken.None)).Reason);
        }
        // Once loaded, each query sends the script's hash (EVALSHA), not its body.
        Assert.Equal((evals, hashed + 5), await ScriptCallsAsync(server));

        // As after a restart of redis-server: the script is gone. The next query still gets its answer, from the
        // triplet stored before.
        await server.ScriptFlushAsync();
        time.Advance(TimeSpan.FromSeconds(300));
        GreylistDecision retry = await engine.CheckAsync(Request, CancellationToken.None);
        Assert.Equal((GreylistAction.Pass, "triplet found"), (retry.Action, retry.Reason));

        // ... and the queries after it use the hash again.
        (long evalsAfterFlush, long hashedAfterFlush) = await ScriptCallsAsync(server);
        for (int i = 0; i < 5; i++)
        {
            GreylistDecision decision = await engine.CheckAsync(Other(i), CancellationToken.None);
            Assert.Equal((GreylistAction.Pass, "triplet found"), (decision.Action, decision.Reason));
        }
        Assert.Equal((evalsAfterFlush, hashedAfterFlush + 5), await ScriptCallsAsync(server));
    }

    /// <summary>Calls of EVAL and EVALSHA so far (INFO commandstats).</summary>
    private static async Task<(long Eval, long EvalSha)> ScriptCallsAsync(IServer server)
    {
        string info = (await server.InfoRawAsync("commandstats"))!;
        long Calls(string command)
        {
            string marker = "cmdstat_" + command + ":calls=";
            int at = info.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0)
            {
                return 0;
            }
            at += marker.Length;
            int end = info.IndexOf(',', at);
            return long.Parse(info[at..end], System.Globalization.CultureInfo.InvariantCulture);
        }
        return (Calls("eval"), Calls("evalsha"));
    }

    [Fact]
    public async Task Redis_Unreachable_EngineThrowsSoThePolicyDoorSendsNothing()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        await using IGreylistStore store = await RedisGreylistStore.ConnectAsync($"127.0.0.1:{port},connectTimeout=300,asyncTimeout=500,connectRetry=0", "x:");
        GreylistEngine engine = Engine(store, new FakeTimeProvider(Start));

        await Assert.ThrowsAnyAsync<RedisException>(() => engine.CheckAsync(Request, CancellationToken.None));
    }

    [Fact]
    public async Task Sqlite_Expire_RemovesOldAndUnpassedRecords()
    {
        string path = _fixture.NewSqlitePath();
        var time = new FakeTimeProvider(Start);
        await using IGreylistStore store = new SqliteGreylistStore(path);
        GreylistEngine engine = Engine(store, time);
        GreylistRequest passed = Request;
        GreylistRequest unpassed = Request with { Recipient = "carol@example.net" };
        GreylistRequest fresh = Request with { Recipient = "dave@example.net" };
        await engine.CheckAsync(passed, CancellationToken.None);
        await engine.CheckAsync(unpassed, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(300));
        await engine.CheckAsync(passed, CancellationToken.None);

        time.Advance(TimeSpan.FromDays(3));
        await engine.CheckAsync(fresh, CancellationToken.None);
        int removedEarly = await engine.ExpireAsync(CancellationToken.None);
        Assert.Equal(1, removedEarly);
        Assert.Equal(3, ReadSqliteKeys(path).Count);

        time.Advance(TimeSpan.FromDays(36));
        int removedLate = await engine.ExpireAsync(CancellationToken.None);
        Assert.Equal(3, removedLate);
        Assert.Empty(ReadSqliteKeys(path));
    }

    [Fact]
    public async Task Sqlite_ReopenedFile_KeepsTriplets()
    {
        string path = _fixture.NewSqlitePath();
        var time = new FakeTimeProvider(Start);
        await using (IGreylistStore store = new SqliteGreylistStore(path))
        {
            await Engine(store, time).CheckAsync(Request, CancellationToken.None);
        }
        time.Advance(TimeSpan.FromSeconds(300));
        await using IGreylistStore reopened = new SqliteGreylistStore(path);

        GreylistDecision decision = await Engine(reopened, time).CheckAsync(Request, CancellationToken.None);

        Assert.Equal(GreylistAction.Pass, decision.Action);
        Assert.Equal("wal", ReadPragma(path, "journal_mode"));
    }

    private static List<string> ReadSqliteKeys(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT key FROM triplet UNION ALL SELECT key FROM client";
        using SqliteDataReader reader = command.ExecuteReader();
        var keys = new List<string>();
        while (reader.Read())
        {
            keys.Add(reader.GetString(0));
        }
        return keys;
    }

    private static string ReadPragma(string path, string pragma)
    {
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA " + pragma;
        return (string)command.ExecuteScalar()!;
    }
}
