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
        // The journal stamps time and unit itself; a terminal wants the time.
        string template = journal
            ? "{Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}"
            : "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} {Level:u3} {SourceContext}: {Message:lj}{NewLine}{Exception}";
        if (Console.IsOutputRedirected)
        {
            // The journal or a file: batched writes from one thread (BatchingStreamSink), so a line per message or
            // per greylisting decision costs the caller a queue push, not a thread wake-up and a write(2) each.
            Serilog.Formatting.ITextFormatter formatter = settings.Json
                ? new Serilog.Formatting.Compact.CompactJsonFormatter()
                : new Serilog.Formatting.Display.MessageTemplateTextFormatter(
                    // ":l" here renders scalars (strings, enums) bare, as the console sink's ":lj" does.
                    template.Replace("{Message:lj}", "{Message:l}", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture);
            // As before: text sends Fatal to stderr, JSON keeps every event on stdout.
            config = config.WriteTo.Sink(new BatchingStreamSink(formatter, Console.OpenStandardOutput(), errorOutput: settings.Json ? null : Console.OpenStandardError()));
        }
        else if (settings.Json)
        {
            config = config.WriteTo.Async(a => a.Console(new Serilog.Formatting.Compact.CompactJsonFormatter()));
        }
        else
        {
            // Async: a slow terminal must not stall SMTP sessions (each message logs its audit line).
            config = config.WriteTo.Async(a => a.Console(outputTemplate: template, standardErrorFromLevel: LogEventLevel.Fatal));
        }
        return config.CreateLogger();
    }
}
