using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Pipeline.Verdicts;

/// <summary>What happens to one message: one action, the amavis category, header edits, and the reply.</summary>
public sealed class Verdict
{
    /// <summary>The final action.</summary>
    public VerdictAction Action { get; set; }

    /// <summary>amavis's content category: <c>CLEAN</c>, <c>SPAMMY</c>, <c>SPAM</c>, <c>INFECTED</c>, <c>BANNED</c>, <c>UNCHECKED</c>, <c>OVERSIZED</c>, <c>OTHER</c>.</summary>
    public string Category { get; set; } = "CLEAN";

    /// <summary>Names shown in brackets after the category (<c>INFECTED (Eicar-Test-Signature)</c>).</summary>
    public IReadOnlyList<string> CategoryNames { get; set; } = Array.Empty<string>();

    /// <summary>Spam score, when scored.</summary>
    public double? Score { get; set; }

    /// <summary>Store a copy in quarantine (with Discard or Reject, or Deliver for a copy).</summary>
    public bool Quarantine { get; set; }

    /// <summary>The quarantine id once stored.</summary>
    public string? QuarantineId { get; set; }

    /// <summary>Reply for Reject, TempFail and Discard; the door's default text when null.</summary>
    public Reply? Reply { get; set; }

    /// <summary>Header changes for delivered mail.</summary>
    public HeaderEdits Edits { get; } = new();

    /// <summary>Why, in a few words, for the log (<c>virus scanner unavailable</c>).</summary>
    public string? Reason { get; set; }

    /// <summary>Category with names, as amavis logs it: <c>INFECTED (Eicar-Test-Signature)</c>.</summary>
    public string CategoryText => CategoryNames.Count == 0 ? Category : $"{Category} ({string.Join(", ", CategoryNames)})";
}
