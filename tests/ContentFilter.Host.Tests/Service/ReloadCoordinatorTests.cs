using ContentFilter.Host.Configuration;
using ContentFilter.Host.Service;
using ContentFilter.Pipeline.Policy;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Host.Tests.Service;

public sealed class ReloadCoordinatorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cf-reload-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class Reloadable(string name, bool fail) : IReloadable
    {
        public int Committed { get; private set; }

        public bool Fail { get; set; } = fail;

        public string Name => name;

        public ValueTask<Action> PrepareAsync(CancellationToken cancellationToken) =>
            Fail ? throw new InvalidDataException("whitelist line 3: bad CIDR") : ValueTask.FromResult<Action>(() => Committed++);
    }

    private (ReloadCoordinator, string, LocalDomains) Start(string json, params IReloadable[] reloadables)
    {
        string path = Path.Combine(_dir, "contentfilter.json");
        File.WriteAllText(path, json);
        LoadedConfig initial = ConfigLoader.Load(path, new Dictionary<string, string?>());
        Assert.Empty(initial.Errors);
        var domains = new LocalDomains(initial.Settings.LocalDomains.Domains);
        var coordinator = new ReloadCoordinator(initial, new VerdictPolicy(initial.Get<VerdictPolicyOptions>("Verdict")), domains, reloadables, NullLogger<ReloadCoordinator>.Instance);
        return (coordinator, path, domains);
    }

    [Fact]
    public async Task Reload_GoodConfig_TakesEffect()
    {
        var r = new Reloadable("whitelists", fail: false);
        var (c, path, domains) = Start("""{ "Verdict": { "SpamKillLevel": 10 }, "LocalDomains": { "Domains": [ "a.example" ] } }""", r);
        File.WriteAllText(path, """{ "Verdict": { "SpamKillLevel": 20 }, "LocalDomains": { "Domains": [ "b.example" ] } }""");

        IReadOnlyList<string> problems = await c.ReloadAsync(CancellationToken.None);

        Assert.Empty(problems);
        Assert.Equal(20, c.Policy.Options.SpamKillLevel);
        Assert.True(domains.IsLocal("b.example"));
        Assert.False(domains.IsLocal("a.example"));
        Assert.Equal(1, r.Committed);
        Assert.Equal(1, c.Generation);
    }

    [Fact]
    public async Task Reload_BrokenConfig_KeepsTheOldOne()
    {
        var r = new Reloadable("whitelists", fail: false);
        var (c, path, domains) = Start("""{ "Verdict": { "SpamKillLevel": 10 }, "LocalDomains": { "Domains": [ "a.example" ] } }""", r);
        VerdictPolicy before = c.Policy;
        File.WriteAllText(path, """{ "Verdict": { "SpamKillLevel": "ten" } }""");

        IReadOnlyList<string> problems = await c.ReloadAsync(CancellationToken.None);

        Assert.Contains(problems, p => p.StartsWith("Verdict:SpamKillLevel:", StringComparison.Ordinal));
        Assert.Same(before, c.Policy);
        Assert.True(domains.IsLocal("a.example"));
        Assert.Equal(0, r.Committed);
        Assert.Equal(0, c.Generation);
    }

    [Fact]
    public async Task Reload_OneComponentFails_NothingIsHalfApplied()
    {
        var good = new Reloadable("dkim", fail: false);
        var bad = new Reloadable("whitelists", fail: true);
        var (c, path, _) = Start("""{ "Verdict": { "SpamKillLevel": 10 } }""", good, bad);
        File.WriteAllText(path, """{ "Verdict": { "SpamKillLevel": 20 } }""");

        IReadOnlyList<string> problems = await c.ReloadAsync(CancellationToken.None);

        Assert.Equal(new[] { "whitelists: whitelist line 3: bad CIDR" }, problems);
        Assert.Equal(10, c.Policy.Options.SpamKillLevel);
        Assert.Equal(0, good.Committed);

        bad.Fail = false;
        Assert.Empty(await c.ReloadAsync(CancellationToken.None));
        Assert.Equal(20, c.Policy.Options.SpamKillLevel);
        Assert.Equal(1, good.Committed);
    }
}
