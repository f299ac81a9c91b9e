using ContentFilter.Host.Configuration;
using ContentFilter.Host.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
        // AddSerilog replaces the logger factory only; ILogger<T> itself comes from AddLogging (the generic host adds it for the service).
        services.AddLogging();
        services.AddSerilog(root, dispose: true);
        ServiceWiring.Add(services, config, root);
        services.AddSingleton<ContentFilter.Pipeline.Quarantine.QuarantineManager>();
        services.AddSingleton<ContentFilter.Pipeline.Quarantine.IQuarantineRepository>(sp => sp.GetRequiredService<ContentFilter.Pipeline.Quarantine.FileQuarantineStore>());
        return services.BuildServiceProvider();
    }

    /// <summary>Runs until SIGTERM/SIGINT; returns the exit code.</summary>
    public static int Run(LoadedConfig config)
    {
        Serilog.ILogger root = LoggingSetup.Create(config.Settings.Logging);
        Log.Logger = root;
        try
        {
            HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
            {
                DisableDefaults = true,
                ContentRootPath = AppContext.BaseDirectory,
            });
            builder.Services.AddSystemd();
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
            Log.CloseAndFlush();
        }
    }
}
