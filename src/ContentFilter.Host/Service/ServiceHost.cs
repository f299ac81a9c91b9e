using ContentFilter.Host.Configuration;
using ContentFilter.Host.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Serilog;

namespace ContentFilter.Host.Service;

/// <summary>Builds and runs the generic host: Serilog, systemd notify, the listeners and the pipeline.</summary>
public static class ServiceHost
{
    /// <summary>
    /// The services the command-line tools need (quarantine release, DKIM key tools): the same wiring as the
    /// service, logging to stderr, without starting listeners.
    /// </summary>
    public static ServiceProvider BuildTools(LoadedConfig config)
    {
        Serilog.ILogger root = new LoggerConfiguration().MinimumLevel.Warning()
            .WriteTo.Console(standardErrorFromLevel: Serilog.Events.LogEventLevel.Verbose).CreateLogger();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSerilog(root, dispose: true);
        ServiceWiring.Add(services, config, root);
        services.AddSingleton<ContentFilter.Pipeline.Quarantine.QuarantineManager>();
        services.AddSingleton<ContentFilter.Pipeline.Quarantine.IQuarantineRepository>(sp => sp.GetRequiredService<ContentFilter.Pipeline.Quarantine.FileQuarantineStore>());
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
    }

    /// <summary>Runs <paramref name="action"/> with the tools' services and disposes them asynchronously (the next-hop pool closes its connections).</summary>
    public static async Task<T> WithToolsAsync<T>(LoadedConfig config, Func<IServiceProvider, Task<T>> action)
    {
        await using ServiceProvider sp = BuildTools(config);
        return await action(sp).ConfigureAwait(false);
    }

    /// <summary>Runs until SIGTERM/SIGINT; returns the exit code.</summary>
    public static int Run(LoadedConfig config)
    {
        Serilog.ILogger root = LoggingSetup.Create(config.Settings.Logging);
        Serilog.Log.Logger = root;
        try
        {
            HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
            {
                DisableDefaults = true,
                ContentRootPath = AppContext.BaseDirectory,
            });
            // sd_notify whenever $NOTIFY_SOCKET is set (READY, RELOADING, STOPPING, WATCHDOG), see ServiceManagerNotifications.
            var notifier = new SystemdNotifier();
            builder.Services.AddSingleton<ISystemdNotifier>(notifier);
            if (notifier.IsEnabled)
            {
                builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
            }
            builder.Services.AddHostedService(sp => new ServiceManagerNotifications(
                notifier,
                sp.GetRequiredService<IHostApplicationLifetime>(),
                () => sp.GetRequiredService<ListenerService>().Problems(),
                ServiceManagerNotifications.WatchdogIntervalFromEnvironment(Environment.GetEnvironmentVariable, Environment.ProcessId),
                TimeProvider.System,
                sp.GetRequiredService<ILogger<ServiceManagerNotifications>>()));
            builder.Services.AddSerilog(root, dispose: false);
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(config.Settings.Limits.DrainTimeoutSeconds + 10));
            ServiceWiring.Add(builder.Services, config, root);
            using IHost host = builder.Build();
            host.Run();
            return 0;
        }
        catch (Exception ex)
        {
            root.Fatal(ex, "ContentFilter stopped: {Message}", ex.Message);
            return 70;
        }
        finally
        {
            Serilog.Log.CloseAndFlush();
        }
    }
}
