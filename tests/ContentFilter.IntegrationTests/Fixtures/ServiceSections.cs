using ContentFilter.Host.Configuration;

namespace ContentFilter.IntegrationTests.Fixtures;

/// <summary>The top-level configuration sections the service under test knows (unknown keys are errors).</summary>
internal static class ServiceSections
{
    private static readonly HashSet<string> s_known = new(
        typeof(ContentFilterSettings).GetProperties().Select(p => p.Name).Concat(ConfigSections.Components.Select(c => c.Name)),
        StringComparer.OrdinalIgnoreCase);

    /// <summary>True when <paramref name="section"/> is a section of <c>contentfilter.json</c>.</summary>
    public static bool IsKnown(string section) => s_known.Contains(section);
}
