using ContentFilter.Checks.Greylisting;
using ContentFilter.Host.Configuration;
using ContentFilter.Host.Logging;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Host.Service;

/// <summary>Registers every component from the loaded configuration. The one place that knows all of them.</summary>
public static class ServiceWiring
{
    /// <summary>Adds the services.</summary>
    public static void Add(IServiceCollection services, LoadedConfig config, Serilog.ILogger root)
    {
        ContentFilterSettings s = config.Settings;
        string hostName = string.IsNullOrEmpty(s.HostName) ? System.Net.Dns.GetHostName() : s.HostName;
        services.AddSingleton(config);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IAuditSink>(_ => new MeteredAuditSink(new SerilogAuditSink(root, s.Audit.File)));
        services.AddSingleton(s.Metrics);
        services.AddHostedService<MetricsService>();
        services.AddSingleton(new SpoolOptions { Directory = s.Spool.Directory, InMemoryThreshold = s.Spool.InMemoryThreshold, Fsync = s.Spool.Fsync });

        var localDomains = new ContentFilter.Pipeline.Policy.LocalDomains(s.LocalDomains.Domains);
        services.AddSingleton(localDomains);
        if (s.LocalDomains.Sql.ConnectionString.Length > 0)
        {
            services.AddSingleton(s.LocalDomains);
            services.AddHostedService<SqlLocalDomainsRefresher>();
        }

        services.AddSingleton(new ContentFilter.Frontends.Delivery.NextHopOptions
        {
            Endpoint = s.NextHop.Endpoint,
            HeloName = string.IsNullOrEmpty(s.NextHop.HeloName) ? hostName : s.NextHop.HeloName,
            ConnectTimeout = TimeSpan.FromSeconds(s.NextHop.ConnectTimeoutSeconds),
            CommandTimeout = TimeSpan.FromSeconds(s.NextHop.CommandTimeoutSeconds),
            DataDoneTimeout = TimeSpan.FromSeconds(s.NextHop.DataDoneTimeoutSeconds),
            MaxIdleConnections = s.NextHop.MaxIdleConnections,
            IdleTimeout = TimeSpan.FromSeconds(s.NextHop.IdleTimeoutSeconds),
        });
        services.AddSingleton<INextHop, ContentFilter.Frontends.Delivery.SmtpNextHopClient>();
        services.AddSingleton(new ContentFilter.Frontends.Delivery.DsnOptions { ReportingMta = hostName });
        services.AddSingleton<IDsnSender, ContentFilter.Frontends.Delivery.DsnSender>();

        // Quarantine: a directory store (0700/0600) keyed by mail_id, with retention.
        services.AddSingleton(config.Get<ContentFilter.Pipeline.Quarantine.QuarantineOptions>("Quarantine"));
        services.AddSingleton<ContentFilter.Pipeline.Quarantine.FileQuarantineStore>();
        services.AddSingleton<ContentFilter.Pipeline.Quarantine.IQuarantineStore>(sp => sp.GetRequiredService<ContentFilter.Pipeline.Quarantine.FileQuarantineStore>());
        services.AddHostedService<QuarantineRetentionService>();

        // DNS: one resolver (with its cache) for every check.
        services.AddSingleton(config.Get<ContentFilter.Checks.Dns.DnsOptions>("Dns"));
        services.AddSingleton<ContentFilter.Checks.Dns.IDnsResolver, ContentFilter.Checks.Dns.DnsClientResolver>();

        // Greylisting (policy server, and the milter at RCPT when enabled).
        GreylistOptions grey = config.Get<GreylistOptions>("Greylist");
        if (string.IsNullOrEmpty(grey.HostName))
        {
            grey.HostName = hostName;
        }
        services.AddSingleton(grey);
        // The store is the container's, so stopping the service disposes it: the SQLite store writes what it has
        // answered but not yet written, and gives up its file.
        services.AddSingleton(sp => OpenGreylistStore(grey, sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new GreylistEngine(
            grey,
            sp.GetRequiredService<IGreylistStore>(),
            GreylistExemptions(sp, grey, config, hostName),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<GreylistEngine>>(),
            sp.GetRequiredService<IAuditSink>()));
        services.AddSingleton<ContentFilter.Pipeline.Greylisting.IGreylist>(sp => sp.GetRequiredService<GreylistEngine>());
        if (UsesGreylisting(config))
        {
            // Only then: as a reloadable it is built at start, and with it the store, which reads the SQLite file
            // into memory and locks it. Without a door that asks it, nothing builds the engine.
            services.AddSingleton<ContentFilter.Pipeline.Policy.IReloadable>(sp => sp.GetRequiredService<GreylistEngine>());
        }

        AddChecks(services, config, hostName);

        VerdictPolicyOptions verdict = config.Get<VerdictPolicyOptions>("Verdict");
        if (string.IsNullOrEmpty(verdict.HostName))
        {
            verdict.HostName = hostName;
        }
        var policy = new VerdictPolicy(verdict, localDomains);
        services.AddSingleton(policy);
        services.AddSingleton(sp => new ReloadCoordinator(config, policy, localDomains, sp.GetServices<ContentFilter.Pipeline.Policy.IReloadable>(), sp.GetRequiredService<ILogger<ReloadCoordinator>>(), sp.GetService<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>()));
        services.AddHostedService(sp => sp.GetRequiredService<ReloadCoordinator>());
        // After the reload coordinator: hosted services start in order, and SIGHUP must be handled before the first
        // listener accepts (a reload sent as soon as a port answers must not meet the runtime's default action).
        services.AddSingleton<ListenerService>();
        services.AddHostedService(sp => sp.GetRequiredService<ListenerService>());
        services.AddSingleton(sp =>
        {
            ReloadCoordinator reload = sp.GetRequiredService<ReloadCoordinator>();
            return new CheckPipeline(
            sp.GetServices<ICheck>(),
            sp.GetServices<IMessageFinisher>(),
            () => reload.Policy,
            sp.GetRequiredService<TimeProvider>(),
            TimeSpan.FromSeconds(s.Limits.CheckTimeoutSeconds),
            sp.GetRequiredService<ILogger<CheckPipeline>>());
        });
    }

    /// <summary>The beyond-postgrey passes in the order the engine asks them: SPF pass (<c>PassSpf</c>), then FCrDNS (<c>FcrdnsDomains</c>).</summary>
    /// <remarks>
    /// The SPF exemption evaluates with the <c>Spf</c> section's limits whether or not the SPF check itself is enabled,
    /// within <c>Spf:TimeoutMs</c>. The passes that are on share half of <c>Policy:DecisionTimeoutSeconds</c> (they run
    /// one after the other): past the decision timeout the door would answer nothing and Postfix would apply its
    /// default action, so slow DNS must end as "greylist as usual" with time left for the store.
    /// </remarks>
    private static IGreylistExemption[] GreylistExemptions(IServiceProvider sp, GreylistOptions grey, LoadedConfig config, string hostName)
    {
        var dns = sp.GetRequiredService<ContentFilter.Checks.Dns.IDnsResolver>();
        var time = sp.GetRequiredService<TimeProvider>();
        var policy = config.Get<ContentFilter.Frontends.Policy.PolicySessionOptions>("Policy");
        int passes = (grey.PassSpf ? 1 : 0) + (grey.FcrdnsDomains.Count > 0 ? 1 : 0);
        int shareMs = passes == 0 ? 0 : policy.DecisionTimeoutSeconds * 1000 / 2 / passes;
        var exemptions = new List<IGreylistExemption>();
        if (grey.PassSpf)
        {
            var spf = config.Get<ContentFilter.Checks.Spf.SpfOptions>("Spf");
            if (string.IsNullOrEmpty(spf.ReceiverName))
            {
                spf.ReceiverName = hostName;
            }
            exemptions.Add(new SpfGreylistExemption(dns, spf, time, TimeSpan.FromMilliseconds(Math.Min(spf.TimeoutMs, shareMs))));
        }
        if (grey.FcrdnsDomains.Count > 0)
        {
            exemptions.Add(new FcrdnsGreylistExemption(dns, grey.FcrdnsDomains, time, TimeSpan.FromMilliseconds(shareMs)));
        }
        return exemptions.ToArray();
    }

    /// <summary>True when an enabled listener's door asks the greylist (<see cref="DoorFactory.AsksGreylist"/>).</summary>
    internal static bool UsesGreylisting(LoadedConfig config)
    {
        var milter = config.Get<ContentFilter.Frontends.Milter.MilterOptions>("Milter");
        return config.Settings.Listeners.Values.Any(l => l.Enabled && DoorFactory.AsksGreylist(l, milter));
    }

    /// <summary>Opens the greylist store; a SQLite file's directory is created 0700 (triplets are private data).</summary>
    private static IGreylistStore OpenGreylistStore(GreylistOptions grey, ILoggerFactory loggers, TimeProvider time)
    {
        if (grey.Store.Equals("sqlite", StringComparison.OrdinalIgnoreCase) && Path.GetDirectoryName(grey.SqlitePath) is { Length: > 0 } dir && !Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return GreylistStoreFactory.CreateAsync(grey, loggers, time).GetAwaiter().GetResult();
    }

    /// <summary>
    /// The checks in run order: authentication first (DMARC reads SPF and DKIM results), then content. Finishers
    /// (DKIM signing, then ARC sealing over the signed message) run for delivered mail only.
    /// </summary>
    private static void AddChecks(IServiceCollection services, LoadedConfig config, string hostName)
    {
        var dkim = config.Get<ContentFilter.Checks.Dkim.DkimOptions>("Dkim");
        var arc = config.Get<ContentFilter.Checks.Arc.ArcOptions>("Arc");
        var clam = config.Get<ContentFilter.Checks.Antivirus.ClamAvOptions>("Antivirus");
        var spam = config.Get<ContentFilter.Checks.Spam.SpamAssassinOptions>("Spam");
        var banned = config.Get<ContentFilter.Checks.Banned.BannedContentOptions>("Banned");
        string authServId = string.IsNullOrEmpty(config.Get<VerdictPolicyOptions>("Verdict").AuthServId) ? hostName : config.Get<VerdictPolicyOptions>("Verdict").AuthServId;

        var spf = config.Get<ContentFilter.Checks.Spf.SpfOptions>("Spf");
        var dmarc = config.Get<ContentFilter.Checks.Dmarc.DmarcOptions>("Dmarc");
        if (string.IsNullOrEmpty(spf.ReceiverName))
        {
            spf.ReceiverName = hostName;
        }
        if (spf.Enabled)
        {
            services.AddSingleton<ICheck>(sp => new ContentFilter.Checks.Spf.SpfCheck(spf, sp.GetRequiredService<ContentFilter.Checks.Dns.IDnsResolver>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ContentFilter.Checks.Spf.SpfCheck>>()));
        }
        if (dkim.Verify)
        {
            services.AddSingleton<ICheck>(sp => new ContentFilter.Checks.Dkim.DkimVerifyCheck(dkim, sp.GetRequiredService<ContentFilter.Checks.Dns.IDnsResolver>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ContentFilter.Checks.Dkim.DkimVerifyCheck>>()));
        }
        if (arc.Verify)
        {
            services.AddSingleton<ICheck>(sp => new ContentFilter.Checks.Arc.ArcVerifyCheck(arc, sp.GetRequiredService<ContentFilter.Checks.Dns.IDnsResolver>(), sp.GetRequiredService<ILogger<ContentFilter.Checks.Arc.ArcVerifyCheck>>()));
        }
        if (dmarc.Enabled)
        {
            services.AddSingleton(sp => new ContentFilter.Checks.Dmarc.OrganizationalDomain(dmarc, sp.GetRequiredService<ILogger<ContentFilter.Checks.Dmarc.OrganizationalDomain>>()));
            services.AddSingleton<ICheck>(sp => new ContentFilter.Checks.Dmarc.DmarcCheck(dmarc, sp.GetRequiredService<ContentFilter.Checks.Dns.IDnsResolver>(), sp.GetRequiredService<ContentFilter.Checks.Dmarc.OrganizationalDomain>(), sp.GetRequiredService<TimeProvider>(), Random.Shared, sp.GetRequiredService<ILogger<ContentFilter.Checks.Dmarc.DmarcCheck>>()));
        }
        if (banned.Enabled)
        {
            services.AddSingleton<ICheck>(sp => new ContentFilter.Checks.Banned.BannedContentCheck(banned, sp.GetRequiredService<ILogger<ContentFilter.Checks.Banned.BannedContentCheck>>()));
        }
        if (clam.Enabled)
        {
            services.AddSingleton(sp => new ContentFilter.Checks.Antivirus.ClamdClient(clam, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ContentFilter.Checks.Antivirus.ClamdClient>>()));
            services.AddSingleton<ICheck>(sp => new ContentFilter.Checks.Antivirus.ClamAvCheck(sp.GetRequiredService<ContentFilter.Checks.Antivirus.ClamdClient>(), clam));
        }
        if (spam.Enabled)
        {
            services.AddSingleton(sp => new ContentFilter.Checks.Spam.SpamdClient(spam, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ContentFilter.Checks.Spam.SpamdClient>>()));
            services.AddSingleton<ICheck>(sp => new ContentFilter.Checks.Spam.SpamAssassinCheck(sp.GetRequiredService<ContentFilter.Checks.Spam.SpamdClient>(), spam));
        }
        if (dkim.Sign.Enabled)
        {
            services.AddSingleton(sp => new ContentFilter.Checks.Dkim.DkimSigner(dkim, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ContentFilter.Checks.Dkim.DkimSigner>>()));
            services.AddSingleton<IMessageFinisher>(sp => sp.GetRequiredService<ContentFilter.Checks.Dkim.DkimSigner>());
            services.AddSingleton<ContentFilter.Pipeline.Policy.IReloadable>(sp => sp.GetRequiredService<ContentFilter.Checks.Dkim.DkimSigner>());
        }
        if (arc.Seal.Count > 0)
        {
            services.AddSingleton<IMessageFinisher>(sp => new ContentFilter.Checks.Arc.ArcSealer(arc, authServId, sp.GetRequiredService<ContentFilter.Checks.Dns.IDnsResolver>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ContentFilter.Checks.Arc.ArcSealer>>()));
        }
    }
}
