using ContentFilter.Host.Configuration;
using Serilog;
using Serilog.Events;

namespace ContentFilter.Host.Logging;

/// <summary>Serilog for the service: text (or compact JSON) on stdout, which systemd's journal collects.</summary>
public static class LoggingSetup
{
    /// <summary>Creates the root logger.</summary>
    public static Serilog.ILogger Create(LoggingSettings settings)
    {
        LogEventLevel level = Enum.Parse<LogEventLevel>(settings.Level, ignoreCase: true);
        bool journal = Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null;
        LoggerConfiguration config = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.FromLogContext();
        if (settings.Json)
        {
            config = config.WriteTo.Async(a => a.Console(new Serilog.Formatting.Compact.CompactJsonFormatter()));
        }
        else
        {
            // The journal stamps time and unit itself; a terminal wants the time.
            string template = journal
                ? "{Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}"
                : "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}";
            // Async: a slow terminal or journal must not stall SMTP sessions (each message logs its audit line).
            config = config.WriteTo.Async(a => a.Console(outputTemplate: template, standardErrorFromLevel: LogEventLevel.Fatal));
        }
        return config.CreateLogger();
    }
}
