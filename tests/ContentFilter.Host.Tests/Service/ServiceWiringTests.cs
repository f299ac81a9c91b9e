using System.Net;
using ContentFilter.Checks.Greylisting;
using ContentFilter.Host.Configuration;
using ContentFilter.Host.Service;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Pipeline.Quarantine;
using Microsoft.Extensions.DependencyInjection;

namespace ContentFilter.Host.Tests.Service;

public sealed class ServiceWiringTests
{
    [Fact]
    public async Task BuildTools_Defaults_ResolvesEveryComponent()
    {
        LoadedConfig config = ConfigLoader.Load(null, new Dictionary<string, string?>(), readDefaultFile: false);
        await using ServiceProvider sp = ServiceHost.BuildTools(config);

        Assert.NotNull(sp.GetRequiredService<QuarantineManager>());
        Assert.NotNull(sp.GetRequiredService<CheckPipeline>());
        // Default run order: authentication first (DMARC reads SPF and DKIM), then content.
        Assert.Equal(new[] { "spf", "dkim", "arc", "dmarc", "banned", "clamav", "spamassassin" }, sp.GetServices<ICheck>().Select(c => c.Name));
        Assert.Empty(sp.GetServices<IMessageFinisher>());
    }

    [Fact]
    public async Task Disposing_TheServices_DisposesTheGreylistStore_SoItsFileIsWrittenAndFree()
    {
        string dir = Directory.CreateTempSubdirectory("cf-wiring-grey-").FullName;
        try
        {
            string db = Path.Combine(dir, "greylist.db");
            LoadedConfig config = ConfigLoader.Load(null, new Dictionary<string, string?> { ["CONTENTFILTER_Greylist__SqlitePath"] = db }, readDefaultFile: false);
            var request = new GreylistRequest(IPAddress.Parse("192.0.2.7"), "mx.sender.example", "alice@sender.example", "bob@dest.test", "1.2.3", "mx.sender.example");
            await using (ServiceProvider sp = ServiceHost.BuildTools(config))
            {
                Assert.Equal("new", (await sp.GetRequiredService<IGreylist>().CheckAsync(request, CancellationToken.None)).Reason);
            }

            // A store left open would still hold greylist.db.lock, and its last updates only in memory.
            await using var reopened = new SqliteGreylistStore(db);
            var timing = new GreylistTiming(300, 2 * 86400, 35 * 86400, 3600);
            Assert.Equal(1, await reopened.ExpireAsync(DateTimeOffset.UtcNow.ToUnixTimeSeconds() + (3 * 86400), timing, CancellationToken.None));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(true, false, true)]
    [InlineData(false, false, false)]
    [InlineData(false, true, true)]
    public async Task TheGreylistFile_IsOpenedAtStart_OnlyWhenADoorAsksTheGreylist(bool policyDoor, bool milterAtRcpt, bool opened)
    {
        string dir = Directory.CreateTempSubdirectory("cf-wiring-grey-").FullName;
        try
        {
            string db = Path.Combine(dir, "greylist.db");
            LoadedConfig config = ConfigLoader.Load(null, new Dictionary<string, string?>
            {
                ["CONTENTFILTER_Greylist__SqlitePath"] = db,
                ["CONTENTFILTER_Listeners__policy__Enabled"] = policyDoor ? "true" : "false",
                ["CONTENTFILTER_Milter__GreylistAtRcpt"] = milterAtRcpt ? "true" : "false",
            }, readDefaultFile: false);
            Assert.Empty(config.Errors);
            await using ServiceProvider sp = ServiceHost.BuildTools(config);

            // What the service builds at start: the hosted services, the reload coordinator among them.
            _ = sp.GetServices<Microsoft.Extensions.Hosting.IHostedService>().ToList();

            Assert.Equal(opened, File.Exists(db + ".lock"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task BuildTools_ChecksOff_RegistersNone()
    {
        LoadedConfig config = ConfigLoader.Load(null, new Dictionary<string, string?>
        {
            ["CONTENTFILTER_Antivirus__Enabled"] = "false",
            ["CONTENTFILTER_Spam__Enabled"] = "false",
            ["CONTENTFILTER_Banned__Enabled"] = "false",
            ["CONTENTFILTER_Dkim__Verify"] = "false",
            ["CONTENTFILTER_Arc__Verify"] = "false",
            ["CONTENTFILTER_Spf__Enabled"] = "false",
            ["CONTENTFILTER_Dmarc__Enabled"] = "false",
        }, readDefaultFile: false);
        Assert.Empty(config.Errors);
        await using ServiceProvider sp = ServiceHost.BuildTools(config);
        Assert.Empty(sp.GetServices<ICheck>());
    }

    [Fact]
    public async Task HostedServices_ReloadCoordinatorStartsBeforeTheListeners()
    {
        // Hosted services start in registration order: SIGHUP must have its handler before the first listener
        // accepts, or a reload sent as soon as the port answers meets the runtime's default (ignored or fatal).
        LoadedConfig config = ConfigLoader.Load(null, new Dictionary<string, string?>(), readDefaultFile: false);
        await using ServiceProvider sp = ServiceHost.BuildTools(config);

        List<Type> order = sp.GetServices<Microsoft.Extensions.Hosting.IHostedService>().Select(h => h.GetType()).ToList();

        int reload = order.IndexOf(typeof(ReloadCoordinator));
        int listeners = order.IndexOf(typeof(ListenerService));
        Assert.True(reload >= 0 && listeners >= 0, string.Join(", ", order.Select(t => t.Name)));
        Assert.True(reload < listeners, string.Join(", ", order.Select(t => t.Name)));
    }
}
