namespace ContentFilter.Host.Configuration;

/// <summary>The component sections of <c>contentfilter.json</c> and the option types they bind to.</summary>
public static class ConfigSections
{
    /// <summary>Section name to options type, in the order the sample configuration lists them.</summary>
    public static IReadOnlyList<(string Name, Type Type)> Components { get; } = new List<(string, Type)>
    {
        ("Verdict", typeof(ContentFilter.Pipeline.Verdicts.VerdictPolicyOptions)),
    };

    /// <summary>Validates one component section; adds messages naming the key.</summary>
    public static void Validate(string section, object options, List<string> errors)
    {
        switch (options)
        {
            case ContentFilter.Pipeline.Verdicts.VerdictPolicyOptions v:
                if (v.SpamKillLevel < v.SpamTag2Level)
                {
                    errors.Add($"{section}:SpamKillLevel: must not be below SpamTag2Level ({v.SpamTag2Level})");
                }
                break;
        }
    }
}
