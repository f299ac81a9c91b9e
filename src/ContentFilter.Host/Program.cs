using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ContentFilter.Host.Cli;
using ContentFilter.Host.Configuration;
using ContentFilter.Host.Service;

namespace ContentFilter.Host;

/// <summary>Entry point of the <c>contentfilter</c> command.</summary>
public static class Program
{
    private const string Usage = """
        usage: contentfilter [run] [--config FILE]        run the service (default /etc/contentfilter/contentfilter.json;
                                                          without a file it runs on loopback defaults)
               contentfilter check-config [--config FILE] print the effective configuration; exit 2 naming a bad key
               contentfilter report [--since T] [--until T] [--json] [--top N] [AUDITFILE...]
                                                          summary of the audit records (default: Audit:File and its
                                                          rotated copies, .gz included); T = ISO time or 24h / 7d ago
               contentfilter quarantine list | show ID | release ID [--to RCPT[,RCPT]] | delete ID
               contentfilter dkim keygen --domain D --selector S [--algorithm rsa|ed25519] [--bits N] [--out DIR]
               contentfilter dkim testkey --domain D --selector S --key FILE
               contentfilter status [--config FILE]       one line per listener and peer (clamd, spamd, next hop,
                                                          Redis, DNS); exit 1 when any fails
               contentfilter version
        Environment overrides: CONTENTFILTER_<Section>__<Key>=value (e.g. CONTENTFILTER_NextHop__Endpoint=127.0.0.1:10025)
        """;

    private static readonly HashSet<string> Valued = new(StringComparer.Ordinal) { "config", "to", "domain", "selector", "algorithm", "bits", "out", "key", "since", "until", "top" };

    /// <summary>Runs the service or a subcommand. Exit codes follow sysexits: 0 ok, 2 bad configuration, 64 usage, 69 unavailable, 70 software error.</summary>
    public static int Main(string[] args)
    {
        CommandLine cl;
        try
        {
            cl = CommandLine.Parse(args, Valued);
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"contentfilter: {ex.Message}");
            Console.Error.WriteLine(Usage);
            return 64;
        }
        if (cl.Has("help") || cl.Arguments.FirstOrDefault() is "help" or "-h")
        {
            Console.WriteLine(Usage);
            return 0;
        }
        string verb = cl.Arguments.Count == 0 ? "run" : cl.Arguments[0];
        try
        {
            return verb switch
            {
                "run" => Run(cl),
                "check-config" => CheckConfig(cl),
                "version" => Version(),
                "report" => Report(cl),
                "quarantine" => Quarantine(cl),
                "dkim" => Dkim(cl),
                "status" => LoadOrReport(cl) is { } sc ? StatusCommand.RunAsync(sc, Console.Out, CancellationToken.None).GetAwaiter().GetResult() : 2,
                _ => throw new UsageException($"unknown command '{verb}'"),
            };
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"contentfilter: {ex.Message}");
            Console.Error.WriteLine(Usage);
            return 64;
        }
    }

    private static int Version()
    {
        Console.WriteLine($"contentfilter {typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0"}");
        return 0;
    }

    private static LoadedConfig? LoadOrReport(CommandLine cl)
    {
        LoadedConfig config = ConfigLoader.Load(cl.Get("config"));
        if (config.Errors.Count == 0)
        {
            return config;
        }
        Console.Error.WriteLine($"contentfilter: configuration {(config.File ?? cl.Get("config") ?? "(defaults)")} is not valid:");
        foreach (string e in config.Errors)
        {
            Console.Error.WriteLine("  " + e);
        }
        return null;
    }

    private static int CheckConfig(CommandLine cl)
    {
        LoadedConfig? config = LoadOrReport(cl);
        if (config is null)
        {
            return 2;
        }
        Console.WriteLine($"# effective configuration ({config.File ?? "no file: built-in defaults"}, plus {ConfigLoader.EnvironmentPrefix}* environment overrides)");
        Console.WriteLine(EffectiveJson(config));
        return 0;
    }

    /// <summary>The effective configuration as indented JSON (service settings and every component section).</summary>
    public static string EffectiveJson(LoadedConfig config)
    {
        var options = new JsonSerializerOptions { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };
        JsonObject root = JsonSerializer.SerializeToNode(config.Settings, options)!.AsObject();
        foreach (var (name, value) in config.Components)
        {
            root[name] = JsonSerializer.SerializeToNode(value, value.GetType(), options);
        }
        return root.ToJsonString(options);
    }

    private static int Report(CommandLine cl)
    {
        List<string> files = cl.Arguments.Skip(1).ToList();
        if (files.Count == 0)
        {
            LoadedConfig? config = LoadOrReport(cl);
            if (config is null)
            {
                return 2;
            }
            string audit = config.Settings.Audit.File;
            string? dir = Path.GetDirectoryName(audit);
            if (audit.Length == 0 || dir is null || !Directory.Exists(dir))
            {
                Console.Error.WriteLine("contentfilter: no audit file configured or found (Audit:File); name the files to read");
                return 66;
            }
            files = Directory.GetFiles(dir, Path.GetFileName(audit) + "*").Order(StringComparer.Ordinal).ToList();
        }
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var report = new Reports.AuditReport();
        DateTimeOffset? since = ParseWhen(cl.Get("since"), now, "since");
        DateTimeOffset? until = ParseWhen(cl.Get("until"), now, "until");
        foreach (string f in files)
        {
            try
            {
                report.AddFile(f, since, until);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                Console.Error.WriteLine($"contentfilter: {f}: {ex.Message}");
                return 66;
            }
        }
        int top = int.TryParse(cl.Get("top"), out int t) && t > 0 ? t : 10;
        Console.Write(cl.Has("json") ? report.ToJson(top) + Environment.NewLine : report.ToText(top));
        return 0;
    }

    /// <summary>Parses <c>--since</c>/<c>--until</c>: an ISO date/time (UTC unless it says otherwise) or a span back from now (<c>24h</c>, <c>7d</c>, <c>30m</c>).</summary>
    internal static DateTimeOffset? ParseWhen(string? text, DateTimeOffset now, string option)
    {
        if (text is null)
        {
            return null;
        }
        if (text.Length > 1 && char.IsDigit(text[0]) && "mhd".Contains(text[^1]) && int.TryParse(text[..^1], out int n))
        {
            return now - (text[^1] switch { 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), _ => TimeSpan.FromDays(n) });
        }
        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset when))
        {
            return when;
        }
        throw new UsageException($"--{option}: '{text}' is neither a date/time nor a span like 24h or 7d");
    }

    private static int Quarantine(CommandLine cl)
    {
        LoadedConfig? config = LoadOrReport(cl);
        if (config is null)
        {
            return 2;
        }
        string action = cl.Arguments.Count > 1 ? cl.Arguments[1] : throw new UsageException("quarantine needs list, show, release or delete");
        string Id() => cl.Arguments.Count > 2 ? cl.Arguments[2] : throw new UsageException($"quarantine {action} needs a quarantine id");
        ContentFilter.Pipeline.Quarantine.QuarantineCommandResult result = ServiceHost.WithToolsAsync(config, async sp =>
        {
            var manager = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ContentFilter.Pipeline.Quarantine.QuarantineManager>(sp);
            return action switch
            {
                "list" => manager.List(),
                "show" => manager.Show(Id()),
                "release" => await manager.ReleaseAsync(Id(), cl.Get("to")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), CancellationToken.None).ConfigureAwait(false),
                "delete" => manager.Delete(Id()),
                _ => throw new UsageException($"unknown quarantine action '{action}'"),
            };
        }).GetAwaiter().GetResult();
        (result.Success ? Console.Out : Console.Error).WriteLine(result.Text.TrimEnd());
        return result.Success ? 0 : 1;
    }

    private static int Dkim(CommandLine cl)
    {
        string action = cl.Arguments.Count > 1 ? cl.Arguments[1] : throw new UsageException("dkim needs keygen or testkey");
        switch (action)
        {
            case "keygen":
                int bits = 2048;
                if (cl.Get("bits") is string b && !int.TryParse(b, out bits))
                {
                    throw new UsageException($"--bits: '{b}' is not a number");
                }
                return ContentFilter.Checks.Dkim.DkimKeyTool.Keygen(cl.Require("domain"), cl.Require("selector"), cl.Get("algorithm") ?? "rsa", bits, cl.Get("out") ?? ".", Console.Out, Console.Error);
            case "testkey":
                LoadedConfig? config = LoadOrReport(cl);
                if (config is null)
                {
                    return 2;
                }
                return ServiceHost.WithToolsAsync(config, async sp =>
                {
                    var dns = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ContentFilter.Checks.Dns.IDnsResolver>(sp);
                    var tool = new ContentFilter.Checks.Dkim.DkimKeyTool(dns, config.Get<ContentFilter.Checks.Dkim.DkimOptions>("Dkim").MinimumKeyBits);
                    return (await tool.TestKeyAsync(cl.Require("domain"), cl.Require("selector"), cl.Require("key"), CancellationToken.None).ConfigureAwait(false)).Print(Console.Out);
                }).GetAwaiter().GetResult();
            default:
                throw new UsageException($"unknown dkim action '{action}'");
        }
    }

    private static int Run(CommandLine cl)
    {
        LoadedConfig? config = LoadOrReport(cl);
        if (config is null)
        {
            return 2;
        }
        PreferInlineSocketCompletions();
        return ServiceHost.Run(config);
    }

    /// <summary>The environment variable with which .NET runs socket continuations on its epoll threads.</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Runs socket continuations on the runtime's epoll threads (one per CPU) instead of handing each to the thread
    /// pool, unless the environment already says otherwise (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c>).
    /// </summary>
    /// <remarks>
    /// Every SMTP, milter and policy round trip is a socket completion; handing each to a pool thread cost about 20
    /// context switches per relayed message (2 without) and the pool's spinning, about a third of the filter's CPU
    /// on the relay path (docs/benchmarks.md). The work that follows a completion here is short and never blocks on
    /// the network: waits are awaits, file I/O goes through the pool, the console log has its own writer thread.
    /// The runtime reads the variable once, when the first socket operation starts its engine, so this runs before
    /// the host is built.
    /// </remarks>
    private static void PreferInlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }
    }
}
