using System.Net;
using ContentFilter.Frontends.Transport;
using Microsoft.Extensions.Configuration;

namespace ContentFilter.Host.Configuration;

/// <summary>The configuration as loaded: raw tree, bound settings, component sections, and every error found.</summary>
public sealed class LoadedConfig
{
    /// <summary>The raw configuration tree (file + environment).</summary>
    public required IConfiguration Raw { get; init; }

    /// <summary>Service-level settings.</summary>
    public required ContentFilterSettings Settings { get; init; }

    /// <summary>Component options by section name (bound instances of the types in <see cref="ConfigSections.Components"/>).</summary>
    public required IReadOnlyDictionary<string, object> Components { get; init; }

    /// <summary>The file read, or null when running on defaults.</summary>
    public string? File { get; init; }

    /// <summary>Problems, each naming the key (<c>Listeners:inbound:Endpoint: ...</c>). Empty when valid.</summary>
    public required IReadOnlyList<string> Errors { get; init; }

    /// <summary>The options object of a component section.</summary>
    public T Get<T>(string section) where T : class => (T)Components[section];
}

/// <summary>Loads <c>contentfilter.json</c> (comments allowed) and <c>CONTENTFILTER_</c> environment overrides.</summary>
/// <remarks>
/// Environment variables use <c>__</c> for <c>:</c>, e.g. <c>CONTENTFILTER_NextHop__Endpoint=127.0.0.1:10025</c>.
/// Without a file (and without <c>--config</c>) the service runs on its safe loopback defaults.
/// </remarks>
public static class ConfigLoader
{
    /// <summary>The default file.</summary>
    public const string DefaultPath = "/etc/contentfilter/contentfilter.json";

    /// <summary>Environment variable prefix.</summary>
    public const string EnvironmentPrefix = "CONTENTFILTER_";

    /// <summary>Loads and validates. Never throws for bad content: problems land in <see cref="LoadedConfig.Errors"/>.</summary>
    /// <param name="explicitPath">A path given with <c>--config</c> (must exist), or null for the default (optional).</param>
    /// <param name="environment">Environment variables to use (null = the process's).</param>
    /// <param name="readDefaultFile">False to ignore <see cref="DefaultPath"/> (built-in defaults only).</param>
    public static LoadedConfig Load(string? explicitPath, IDictionary<string, string?>? environment = null, bool readDefaultFile = true)
    {
        var errors = new List<string>();
        string path = explicitPath ?? DefaultPath;
        bool exists = (explicitPath is not null || readDefaultFile) && System.IO.File.Exists(path);
        if (explicitPath is not null && !exists)
        {
            errors.Add($"--config: file not found: {explicitPath}");
        }

        var builder = new ConfigurationBuilder();
        if (exists)
        {
            builder.AddJsonFile(Path.GetFullPath(path), optional: false, reloadOnChange: false);
        }
        if (environment is null)
        {
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            builder.AddInMemoryCollection(environment
                .Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                .Select(kv => new KeyValuePair<string, string?>(kv.Key[EnvironmentPrefix.Length..].Replace("__", ":"), kv.Value)));
        }

        IConfiguration raw;
        try
        {
            raw = builder.Build();
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException or System.Text.Json.JsonException)
        {
            errors.Add($"{path}: not valid JSON: {(ex.InnerException ?? ex).Message}");
            raw = new ConfigurationBuilder().Build();
        }

        var sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in typeof(ContentFilterSettings).GetProperties().Where(p => p.CanWrite && p.PropertyType != typeof(string)))
        {
            sections[p.Name] = p.PropertyType;
        }
        foreach (var (name, type) in ConfigSections.Components)
        {
            sections[name] = type;
        }
        var rootScalars = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { nameof(ContentFilterSettings.HostName) };
        errors.AddRange(ConfigSchema.Check(raw, sections, rootScalars));

        // Default listeners first, so that a file naming only "Listeners:originating:Endpoint" keeps the
        // originating direction: the binder binds into existing dictionary values.
        var settings = new ContentFilterSettings();
        foreach (var (name, listener) in ContentFilterSettings.DefaultListeners)
        {
            settings.Listeners[name] = Copy(listener);
        }
        var components = new Dictionary<string, object>(StringComparer.OrdinalIgnoreCase);
        if (errors.Count == 0)
        {
            try
            {
                ClearConfiguredLists(settings, raw);
                raw.Bind(settings);
                foreach (var (name, listener) in settings.Listeners)
                {
                    listener.Name = name;
                    // An empty list in the file means "every check that applies", not "none".
                    if (listener.Checks is { Count: 0 })
                    {
                        listener.Checks = null;
                    }
                }
                foreach (var (name, type) in ConfigSections.Components)
                {
                    object instance = Activator.CreateInstance(type)!;
                    ClearConfiguredLists(instance, raw.GetSection(name));
                    raw.GetSection(name).Bind(instance);
                    components[name] = instance;
                }
            }
            catch (InvalidOperationException ex)
            {
                errors.Add(ex.Message);
            }
        }
        else
        {
            foreach (var (name, type) in ConfigSections.Components)
            {
                components[name] = Activator.CreateInstance(type)!;
            }
        }

        if (errors.Count == 0)
        {
            Validate(settings, errors);
            foreach (var (name, options) in components)
            {
                ConfigSections.Validate(name, options, errors);
            }
        }

        return new LoadedConfig { Raw = raw, Settings = settings, Components = components, File = exists ? Path.GetFullPath(path) : null, Errors = errors };
    }

    /// <summary>
    /// Empties every list the configuration sets, so that a configured list REPLACES the default instead of being
    /// appended to it (the binder appends to a pre-filled <see cref="System.Collections.IList"/>): an admin who
    /// writes <c>"Headers": ["From", "Subject"]</c> means exactly those.
    /// </summary>
    private static void ClearConfiguredLists(object target, IConfiguration section)
    {
        foreach (IConfigurationSection child in section.GetChildren())
        {
            System.Reflection.PropertyInfo? prop = target.GetType().GetProperty(child.Key,
                System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase);
            if (prop is null || prop.GetIndexParameters().Length > 0 || prop.PropertyType == typeof(string) || prop.PropertyType.IsValueType)
            {
                continue;
            }
            object? value = prop.GetValue(target);
            if (value is System.Collections.IList { IsFixedSize: false, IsReadOnly: false } list)
            {
                list.Clear();
            }
            else if (value is not null && value is not System.Collections.IEnumerable)
            {
                ClearConfiguredLists(value, child);
            }
        }
    }

    private static ListenerOptions Copy(ListenerOptions l) => new()
    {
        Name = l.Name,
        Enabled = l.Enabled,
        Endpoint = l.Endpoint,
        Protocol = l.Protocol,
        Direction = l.Direction,
        Checks = l.Checks is null ? null : new List<string>(l.Checks),
        AllowedClients = new List<string>(l.AllowedClients),
        MaxSessions = l.MaxSessions,
    };

    private static void Validate(ContentFilterSettings s, List<string> errors)
    {
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, l) in s.Listeners)
        {
            string key = $"Listeners:{name}";
            if (!l.Enabled)
            {
                continue;
            }
            if (!ListenEndpoint.TryParse(l.Endpoint, out ListenEndpoint? ep, out string? why))
            {
                errors.Add($"{key}:Endpoint: {why}");
                continue;
            }
            if (ep!.Port != 0 && seen.TryGetValue(ep.ToString(), out string? other))
            {
                errors.Add($"{key}:Endpoint: {ep} is also used by listener '{other}'");
            }
            seen[ep.ToString()] = name;
            if (!ep.IsLocal && l.AllowedClients.Count == 0)
            {
                errors.Add($"{key}:AllowedClients: required for the non-loopback endpoint {ep} (safe by default: name the networks that may connect)");
            }
            if (!ClientAllowList.TryParse(l.AllowedClients, out _, out string? allowError))
            {
                errors.Add($"{key}:AllowedClients: {allowError}");
            }
            if (l.MaxSessions < 1)
            {
                errors.Add($"{key}:MaxSessions: must be at least 1");
            }
        }
        if (!ListenEndpoint.TryParse(s.NextHop.Endpoint, out ListenEndpoint? nextHop, out string? nhWhy) || nextHop!.Port == 0 && !nextHop.IsUnix)
        {
            errors.Add($"NextHop:Endpoint: {nhWhy ?? "port 0 is not a destination"}");
        }
        else if (seen.TryGetValue(nextHop.ToString(), out string? loop))
        {
            errors.Add($"NextHop:Endpoint: {nextHop} is listener '{loop}' itself (a mail loop)");
        }
        if (!Path.IsPathRooted(s.Spool.Directory))
        {
            errors.Add("Spool:Directory: must be an absolute path");
        }
        if (s.Spool.InMemoryThreshold < 0 || s.Spool.InMemoryThreshold > 64 * 1024 * 1024)
        {
            errors.Add("Spool:InMemoryThreshold: must be between 0 and 67108864");
        }
        if (s.Audit.File.Length > 0 && !Path.IsPathRooted(s.Audit.File))
        {
            errors.Add("Audit:File: must be an absolute path or empty");
        }
        if (s.Limits.MaxMessageSize < 1024)
        {
            errors.Add("Limits:MaxMessageSize: must be at least 1024");
        }
        if (s.Limits.MaxRecipients < 1)
        {
            errors.Add("Limits:MaxRecipients: must be at least 1");
        }
        if (s.Limits.MaxHeaderBytes < 1024)
        {
            errors.Add("Limits:MaxHeaderBytes: must be at least 1024");
        }
        foreach (var (key, value) in new[]
        {
            ("Limits:CommandTimeoutSeconds", s.Limits.CommandTimeoutSeconds),
            ("Limits:DataTimeoutSeconds", s.Limits.DataTimeoutSeconds),
            ("Limits:DataDeadlineSeconds", s.Limits.DataDeadlineSeconds),
            ("Limits:CheckTimeoutSeconds", s.Limits.CheckTimeoutSeconds),
            ("Limits:MessageTimeoutSeconds", s.Limits.MessageTimeoutSeconds),
            ("Limits:DrainTimeoutSeconds", s.Limits.DrainTimeoutSeconds),
            ("NextHop:ConnectTimeoutSeconds", s.NextHop.ConnectTimeoutSeconds),
            ("NextHop:CommandTimeoutSeconds", s.NextHop.CommandTimeoutSeconds),
            ("NextHop:DataDoneTimeoutSeconds", s.NextHop.DataDoneTimeoutSeconds),
        })
        {
            if (value < 1)
            {
                errors.Add($"{key}: must be at least 1");
            }
        }
        if (s.LocalDomains.Sql.ConnectionString.Length > 0)
        {
            try
            {
                _ = new MySqlConnector.MySqlConnectionStringBuilder(s.LocalDomains.Sql.ConnectionString);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"LocalDomains:Sql:ConnectionString: {ex.Message}");
            }
            if (s.LocalDomains.Sql.RefreshSeconds < 1)
            {
                errors.Add("LocalDomains:Sql:RefreshSeconds: must be at least 1");
            }
        }
        if (s.Metrics.Enabled)
        {
            if (!ListenEndpoint.TryParse(s.Metrics.Endpoint, out ListenEndpoint? m, out string? mWhy) || m!.IsUnix)
            {
                errors.Add($"Metrics:Endpoint: {mWhy ?? "must be ip:port"}");
            }
            else if (!m.IsLocal && !s.Metrics.AllowNonLoopback)
            {
                errors.Add($"Metrics:Endpoint: {m} is not loopback; set Metrics:AllowNonLoopback to true to expose it");
            }
        }
        if (!Enum.TryParse<Serilog.Events.LogEventLevel>(s.Logging.Level, true, out _))
        {
            errors.Add($"Logging:Level: '{s.Logging.Level}' is not one of Verbose, Debug, Information, Warning, Error, Fatal");
        }
    }
}
