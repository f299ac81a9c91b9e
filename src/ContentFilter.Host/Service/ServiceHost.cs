using ContentFilter.Host.Configuration;
using ContentFilter.Host.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;

namespace ContentFilter.Host.Service;

/// <summary>Builds and runs the generic host: Serilog, systemd notify, the listeners and the pipeline.</summary>
public static class ServiceHost
{
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
