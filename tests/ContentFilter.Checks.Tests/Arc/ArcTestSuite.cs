using YamlDotNet.RepresentationModel;

namespace ContentFilter.Checks.Tests.Arc;

/// <summary>Reads the ValiMail ARC test suite (../shared/testsuites/arc) in place.</summary>
internal static class ArcTestSuite
{
    /// <summary>Marks a test name that a later duplicate replaces (as PyYAML reads the file).</summary>
    public const string Shadowed = "__shadowed_by_later_duplicate_";

    public sealed record Scenario(string Description, Dictionary<string, string> Records, Dictionary<string, YamlMappingNode> Tests, YamlMappingNode Node);

    public static string? Path(string file)
    {
        string? root = Dkim.TestMessages.SuiteRoot;
        string? path = root is null ? null : System.IO.Path.Combine(root, "arc", file);
        return path is not null && File.Exists(path) ? path : null;
    }

    public static List<Scenario> Load(string path)
    {
        // PyYAML (the suite's reference reader) accepts a literal block whose first line is only spaces
        // (`cv: |` followed by a blank line); YamlDotNet does not, so such a line is emptied first.
        string[] lines = File.ReadAllLines(path);
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i - 1].TrimEnd().EndsWith('|') && lines[i].Trim().Length == 0)
            {
                lines[i] = string.Empty;
            }
        }
        // The file repeats some test names; PyYAML keeps the last, so earlier ones are renamed out of the way.
        var lastIndex = new Dictionary<string, int>();
        int docStart = 0;
        for (int i = 0; i <= lines.Length; i++)
        {
            if (i == lines.Length || lines[i].StartsWith("---", StringComparison.Ordinal))
            {
                foreach (var kv in lastIndex)
                {
                    for (int j = docStart; j < kv.Value; j++)
                    {
                        if (lines[j] == "  " + kv.Key + ":")
                        {
                            lines[j] = "  " + kv.Key + Shadowed + j + ":";
                        }
                    }
                }
                lastIndex.Clear();
                docStart = i;
                continue;
            }
            if (lines[i].StartsWith("  ", StringComparison.Ordinal) && !lines[i].StartsWith("   ", StringComparison.Ordinal) && lines[i].EndsWith(':'))
            {
                lastIndex[lines[i].Trim().TrimEnd(':')] = i;
            }
        }
        var yaml = new YamlStream();
        using (var reader = new StringReader(string.Join("\n", lines) + "\n"))
        {
            yaml.Load(reader);
        }
        var scenarios = new List<Scenario>();
        foreach (YamlDocument doc in yaml.Documents)
        {
            var root = (YamlMappingNode)doc.RootNode;
            var records = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (root.Children.TryGetValue(new YamlScalarNode("txt-records"), out YamlNode? txt) && txt is YamlMappingNode map)
            {
                foreach (var kv in map.Children)
                {
                    records[((YamlScalarNode)kv.Key).Value!] = ((YamlScalarNode)kv.Value).Value!;
                }
            }
            var tests = new Dictionary<string, YamlMappingNode>();
            foreach (var kv in ((YamlMappingNode)root.Children[new YamlScalarNode("tests")]).Children)
            {
                tests[((YamlScalarNode)kv.Key).Value!] = (YamlMappingNode)kv.Value;
            }
            scenarios.Add(new Scenario(Scalar(root, "description") ?? string.Empty, records, tests, root));
        }
        return scenarios;
    }

    /// <summary>xunit theory data: (scenario description, test name) of every test in <paramref name="file"/>, or one placeholder row when the suite is absent.</summary>
    public static IEnumerable<object[]> Cases(string file)
    {
        string? path = Path(file);
        if (path is null)
        {
            yield return ["(suite absent)", ""];
            yield break;
        }
        foreach (Scenario s in Load(path))
        {
            foreach (string name in s.Tests.Keys.Where(k => !k.Contains(Shadowed, StringComparison.Ordinal)))
            {
                yield return [s.Description.Trim(), name];
            }
        }
    }

    /// <summary>The scenario and test a theory row names; skips the test when the suite is absent.</summary>
    public static (Scenario Scenario, YamlMappingNode Test) Find(string file, string scenario, string test)
    {
        string? path = Path(file);
        Skip.If(path is null, "../shared/testsuites/arc is absent");
        Scenario s = Load(path!).First(x => x.Description.Trim() == scenario && x.Tests.ContainsKey(test));
        return (s, s.Tests[test]);
    }

    public static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? v) && v is YamlScalarNode s ? s.Value : null;
}
