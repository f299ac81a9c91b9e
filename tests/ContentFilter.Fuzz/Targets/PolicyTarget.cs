using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Policy;

namespace ContentFilter.Fuzz.Targets;

/// <summary>Postfix policy requests: <see cref="PolicyRequestReader"/>.</summary>
/// <remarks>
/// Invariants: piece sizes change neither the requests nor whether the input is refused (the reason may differ: a
/// line that never ends can be "too long" or "too large" depending on how much has arrived); no attribute holds a
/// control character other than TAB; and a request written back as <c>name=value</c> lines reads to the same attributes.
/// </remarks>
internal static class PolicyTarget
{
    private static readonly PolicyLimits Small = new() { MaxLineLength = 40, MaxAttributes = 4, MaxRequestBytes = 120 };

    public static void Run(byte[] data)
    {
        foreach (PolicyLimits limits in new[] { new PolicyLimits(), Small })
        {
            FeedResult<Dictionary<string, string>> result = Feeder.FeedAllWays(data, () => Step(new PolicyRequestReader(limits)), SameAttributes, strictError: false);
            foreach (Dictionary<string, string> attributes in result.Items)
            {
                FuzzInvariantException.Check(attributes.Count is > 0 && attributes.Count <= limits.MaxAttributes, $"a request with {attributes.Count} attributes");
                foreach ((string name, string value) in attributes)
                {
                    FuzzInvariantException.Check(name.Length > 0 && !name.Contains('='), "an attribute name is empty or holds '='");
                    FuzzInvariantException.Check(!(name + value).Any(c => (c < ' ' && c != '\t') || c == '\u007f'), "an attribute holds a control character");
                }
                RoundTrip(attributes);
            }
        }
    }

    private static void RoundTrip(Dictionary<string, string> attributes)
    {
        var sb = new StringBuilder();
        foreach ((string name, string value) in attributes)
        {
            sb.Append(name).Append('=').Append(value).Append('\n');
        }
        sb.Append('\n');
        byte[] wire = Encoding.UTF8.GetBytes(sb.ToString());
        var unlimited = new PolicyLimits { MaxLineLength = int.MaxValue, MaxAttributes = int.MaxValue, MaxRequestBytes = int.MaxValue };
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(wire));
        FuzzInvariantException.Check(new PolicyRequestReader(unlimited).TryRead(ref reader, out PolicyRequest? again, out PolicyError error) && reader.End, $"a request written back does not read ({error})");
        FuzzInvariantException.Check(SameAttributes(attributes, again!.Attributes.ToDictionary()), "a request written back reads differently");
    }

    private static bool SameAttributes(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out string? v) && v == kv.Value);

    private static ReadStep<Dictionary<string, string>> Step(PolicyRequestReader requests) =>
        (ref SequenceReader<byte> reader, out Dictionary<string, string>? item, out string? error) =>
        {
            item = null;
            error = null;
            if (requests.TryRead(ref reader, out PolicyRequest? request, out PolicyError e))
            {
                item = request.Attributes.ToDictionary();
                return true;
            }
            error = e == PolicyError.None ? null : e.ToString();
            return false;
        };
}
