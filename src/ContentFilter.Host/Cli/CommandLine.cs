namespace ContentFilter.Host.Cli;

/// <summary>The parsed command line: a verb path, options (<c>--name value</c> or <c>--flag</c>) and positional arguments.</summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);

    /// <summary>Verbs and positional arguments in order (<c>quarantine release ID</c>).</summary>
    public List<string> Arguments { get; } = new();

    /// <summary>Parses; options that take values are listed in <paramref name="valued"/>.</summary>
    public static CommandLine Parse(string[] args, IReadOnlySet<string> valued)
    {
        var cl = new CommandLine();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                string name = a[2..];
                string? value = null;
                int eq = name.IndexOf('=');
                if (eq >= 0)
                {
                    value = name[(eq + 1)..];
                    name = name[..eq];
                }
                else if (valued.Contains(name))
                {
                    if (i + 1 >= args.Length)
                    {
                        throw new UsageException($"option --{name} needs a value");
                    }
                    value = args[++i];
                }
                cl._options[name] = value;
            }
            else
            {
                cl.Arguments.Add(a);
            }
        }
        return cl;
    }

    /// <summary>True when <c>--name</c> was given.</summary>
    public bool Has(string name) => _options.ContainsKey(name);

    /// <summary>The value of <c>--name</c>, or null.</summary>
    public string? Get(string name) => _options.GetValueOrDefault(name);

    /// <summary>The value of <c>--name</c>, or a usage error.</summary>
    public string Require(string name) => Get(name) ?? throw new UsageException($"option --{name} is required");

    /// <summary>The options given that are not in <paramref name="known"/>.</summary>
    public IEnumerable<string> Unknown(IReadOnlySet<string> known) => _options.Keys.Where(k => !known.Contains(k));
}

/// <summary>A command-line mistake: printed with the usage text, exit code 64 (EX_USAGE).</summary>
public sealed class UsageException(string message) : Exception(message);
