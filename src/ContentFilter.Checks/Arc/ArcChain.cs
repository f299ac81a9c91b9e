using System.Globalization;
using ContentFilter.Checks.Dkim;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Arc;

/// <summary>The ARC sets of a message, structurally checked (RFC 8617 §5.2 steps 1-3).</summary>
public sealed class ArcChain
{
    /// <summary>ARC-Seal.</summary>
    public const string SealName = "ARC-Seal";

    /// <summary>ARC-Message-Signature.</summary>
    public const string MessageSignatureName = "ARC-Message-Signature";

    /// <summary>ARC-Authentication-Results.</summary>
    public const string ResultsName = "ARC-Authentication-Results";

    /// <summary>At most 50 instances (§4.2.1): a longer chain is a fail, not work.</summary>
    public const int MaxInstances = 50;

    private ArcChain(IReadOnlyList<ArcSet> sets) => Sets = sets;

    /// <summary>Sets ordered by instance, 1..N.</summary>
    public IReadOnlyList<ArcSet> Sets { get; }

    /// <summary>True when the message has any ARC field.</summary>
    public static bool HasArcFields(IReadOnlyList<HeaderField> fields) =>
        fields.Any(f => f.Is(SealName) || f.Is(MessageSignatureName) || f.Is(ResultsName));

    /// <summary>Groups the ARC fields into sets; false with a reason when the structure is broken (a fail).</summary>
    public static bool TryParse(IReadOnlyList<HeaderField> fields, out ArcChain chain, out string? error)
    {
        chain = new ArcChain([]);
        error = null;
        var seals = new Dictionary<int, HeaderField>();
        var sigs = new Dictionary<int, HeaderField>();
        var results = new Dictionary<int, HeaderField>();
        foreach (HeaderField f in fields)
        {
            Dictionary<int, HeaderField>? target = f.Is(SealName) ? seals : f.Is(MessageSignatureName) ? sigs : f.Is(ResultsName) ? results : null;
            if (target is null)
            {
                continue;
            }
            int? instance = target == results ? ResultsInstance(f.Value) : TagInstance(f.Value);
            if (instance is not int i)
            {
                error = $"{f.Name} has no valid i= tag";
                return false;
            }
            if (!target.TryAdd(i, f))
            {
                error = $"duplicate {f.Name} for i={i}";
                return false;
            }
        }
        int n = Math.Max(seals.Count, Math.Max(sigs.Count, results.Count));
        var sets = new List<ArcSet>(n);
        for (int i = 1; i <= n; i++)
        {
            if (!seals.TryGetValue(i, out HeaderField? seal) || !sigs.TryGetValue(i, out HeaderField? sig) || !results.TryGetValue(i, out HeaderField? aar))
            {
                error = $"ARC set i={i} is incomplete";
                return false;
            }
            sets.Add(new ArcSet(i, aar, sig, seal));
        }
        if (seals.Keys.Concat(sigs.Keys).Concat(results.Keys).Any(k => k > n))
        {
            error = "ARC instances are not contiguous";
            return false;
        }
        chain = new ArcChain(sets);
        return true;
    }

    /// <summary>The <c>i=</c> of an ARC-Seal or ARC-Message-Signature, when it is a valid instance number.</summary>
    internal static int? TagInstance(string value)
    {
        if (!DkimTagList.TryParse(value, out DkimTagList tags, out _))
        {
            return null;
        }
        return ParseInstance(tags["i"]);
    }

    /// <summary>The leading <c>i=N;</c> of an ARC-Authentication-Results value (§4.1.1).</summary>
    internal static int? ResultsInstance(string value)
    {
        int semi = value.IndexOf(';');
        if (semi < 0)
        {
            return null;
        }
        string first = value[..semi].Trim(' ', '\t', '\r', '\n');
        int eq = first.IndexOf('=');
        if (eq < 0 || first[..eq].Trim() != "i")
        {
            return null;
        }
        return ParseInstance(first[(eq + 1)..].Trim());
    }

    private static int? ParseInstance(string? s)
    {
        if (string.IsNullOrEmpty(s) || s.Length > 2 || !s.All(char.IsAsciiDigit))
        {
            return null;
        }
        int i = int.Parse(s, CultureInfo.InvariantCulture);
        return i is >= 1 and <= MaxInstances ? i : null;
    }
}
