using ContentFilter.Host.Configuration;
using ContentFilter.Host.Logging;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
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

        VerdictPolicyOptions verdict = config.Get<VerdictPolicyOptions>("Verdict");
        if (string.IsNullOrEmpty(verdict.HostName))
        {
            verdict.HostName = hostName;
        }
        var policy = new VerdictPolicy(verdict);
        services.AddSingleton(policy);
        services.AddSingleton(sp => new ReloadCoordinator(config, policy, localDomains, sp.GetServices<ContentFilter.Pipeline.Policy.IReloadable>(), sp.GetRequiredService<ILogger<ReloadCoordinator>>(), sp.GetService<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>()));
        services.AddHostedService(sp => sp.GetRequiredService<ReloadCoordinator>());
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
}
