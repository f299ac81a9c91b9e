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
               contentfilter version
        Environment overrides: CONTENTFILTER_<Section>__<Key>=value (e.g. CONTENTFILTER_NextHop__Endpoint=127.0.0.1:10025)
        """;

    private static readonly HashSet<string> Valued = new(StringComparer.Ordinal) { "config", "to", "domain", "selector", "algorithm", "bits", "out", "key", "since", "until" };

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

    private static int Run(CommandLine cl)
    {
        LoadedConfig? config = LoadOrReport(cl);
        if (config is null)
        {
            return 2;
        }
        return ServiceHost.Run(config);
    }
}
