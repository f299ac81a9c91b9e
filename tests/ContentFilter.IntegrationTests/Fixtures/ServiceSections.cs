using System.Reflection;
using ContentFilter.Host.Configuration;

namespace ContentFilter.IntegrationTests.Fixtures;

/// <summary>What <c>contentfilter.json</c> accepts, read from the service's own types (unknown keys are errors).</summary>
internal static class ServiceSections
{
    private static readonly Dictionary<string, Type> s_sections = BuildSections();

    /// <summary>True when <paramref name="section"/> is a top-level section and, if given, <paramref name="key"/> one of its keys.</summary>
    public static bool IsKnown(string section, string? key)
    {
        if (!s_sections.TryGetValue(section, out Type? type))
        {
            return false;
        }
        return key is null || type.GetProperty(key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) is { CanWrite: true };
    }

    private static Dictionary<string, Type> BuildSections()
    {
        var sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        foreach (PropertyInfo p in typeof(ContentFilterSettings).GetProperties().Where(p => p.CanWrite && p.PropertyType != typeof(string)))
        {
            sections[p.Name] = p.PropertyType;
        }
        foreach (var (name, type) in ConfigSections.Components)
        {
            sections[name] = type;
        }
        return sections;
    }
}
