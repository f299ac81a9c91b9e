using System.Net;
using ContentFilter.Checks.Dns;
using ContentFilter.Checks.Tests.Dns;
using YamlDotNet.RepresentationModel;

namespace ContentFilter.Checks.Tests.Spf;

/// <summary>One case of the openspf/pyspf YAML suite.</summary>
public sealed record SpfSuiteCase(string Scenario, string Name, string Helo, string Host, string MailFrom, IReadOnlyList<string> Results, string? Explanation, DictionaryDnsResolver Zone)
{
    public override string ToString() => Name;
}

/// <summary>Reads an openspf-format YAML test suite in place (zonedata to a dictionary resolver, as the pyspf driver does).</summary>
public static class SpfTestSuite
{
    public static IReadOnlyList<SpfSuiteCase> Load(string path)
    {
        var cases = new List<SpfSuiteCase>();
        var yaml = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            yaml.Load(reader);
        }
        foreach (YamlDocument doc in yaml.Documents)
        {
            var root = (YamlMappingNode)doc.RootNode;
            string scenario = Scalar(root, "description") ?? "?";
            DictionaryDnsResolver zone = LoadZone(root);
            if (!root.Children.TryGetValue(new YamlScalarNode("tests"), out YamlNode? testsNode))
            {
                continue;
            }
            foreach ((YamlNode key, YamlNode value) in ((YamlMappingNode)testsNode).Children)
            {
                var t = (YamlMappingNode)value;
                YamlNode result = t.Children[new YamlScalarNode("result")];
                IReadOnlyList<string> results = result is YamlSequenceNode seq
                    ? seq.Children.Select(n => ((YamlScalarNode)n).Value!).ToList()
                    : new[] { ((YamlScalarNode)result).Value! };
                cases.Add(new SpfSuiteCase(scenario, ((YamlScalarNode)key).Value!, Scalar(t, "helo") ?? string.Empty, Scalar(t, "host")!, Scalar(t, "mailfrom") ?? string.Empty, results, Scalar(t, "explanation"), zone));
            }
        }
        return cases;
    }

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? n) && n is YamlScalarNode s ? s.Value : null;

    /// <summary>Zone data as the pyspf driver reads it: SPF-type records are served as TXT unless the name lists TXT itself; <c>TXT: NONE</c> only suppresses that.</summary>
    private static DictionaryDnsResolver LoadZone(YamlMappingNode root)
    {
        var zone = new DictionaryDnsResolver();
        if (!root.Children.TryGetValue(new YamlScalarNode("zonedata"), out YamlNode? zd))
        {
            return zone;
        }
        foreach ((YamlNode nameNode, YamlNode recordsNode) in ((YamlMappingNode)zd).Children)
        {
            string name = ((YamlScalarNode)nameNode).Value!;
            zone.Exists(name);
            var generated = new List<string>();
            bool hasTxt = false;
            foreach (YamlNode item in ((YamlSequenceNode)recordsNode).Children)
            {
                if (item is YamlScalarNode marker)
                {
                    if (marker.Value == "TIMEOUT")
                    {
                        zone.Timeout(name);
                    }
                    continue;
                }
                foreach ((YamlNode typeNode, YamlNode v) in ((YamlMappingNode)item).Children)
                {
                    string type = ((YamlScalarNode)typeNode).Value!;
                    switch (type)
                    {
                        case "SPF":
                            generated.Add(Text(v));
                            break;
                        case "TXT":
                            hasTxt = true;
                            if (v is YamlScalarNode { Value: "NONE" })
                            {
                                break;
                            }
                            zone.Add(name, "TXT", Text(v));
                            break;
                        case "A":
                        case "AAAA":
                            zone.Add(name, type, IPAddress.Parse(((YamlScalarNode)v).Value!));
                            break;
                        case "MX":
                            var mx = (YamlSequenceNode)v;
                            zone.Add(name, "MX", new MxRecord(int.Parse(((YamlScalarNode)mx.Children[0]).Value!, System.Globalization.CultureInfo.InvariantCulture), ((YamlScalarNode)mx.Children[1]).Value ?? string.Empty));
                            break;
                        case "PTR":
                        case "CNAME":
                            zone.Add(name, type, ((YamlScalarNode)v).Value!);
                            break;
                        default:
                            throw new InvalidDataException($"unknown record type {type} at {name}");
                    }
                }
            }
            if (!hasTxt)
            {
                foreach (string g in generated)
                {
                    zone.Add(name, "TXT", g);
                }
            }
        }
        return zone;
    }

    /// <summary>A TXT value: one string, or a list of strings joined without separator (RFC 7208 §3.3).</summary>
    private static string Text(YamlNode v) => v is YamlSequenceNode seq
        ? string.Concat(seq.Children.Select(c => ((YamlScalarNode)c).Value))
        : ((YamlScalarNode)v).Value ?? string.Empty;
}
