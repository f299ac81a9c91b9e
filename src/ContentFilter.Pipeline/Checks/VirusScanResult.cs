namespace ContentFilter.Pipeline.Checks;

/// <summary>An antivirus scan: <see cref="CheckStatus.Hit"/> with every virus name reported, or clean, or failed.</summary>
public sealed record VirusScanResult : CheckResult
{
    /// <summary>Every name the scanner reported (e.g. <c>Eicar-Test-Signature</c>, <c>X.UNOFFICIAL</c>).</summary>
    public IReadOnlyList<string> Viruses { get; init; } = Array.Empty<string>();

    /// <summary>True when the message was larger than the scanner accepts (clamd StreamMaxLength): not scanned.</summary>
    public bool Oversized { get; init; }

    /// <summary>Which scanner answered (<c>clamd 1.4.6 at unix:/var/run/clamav/clamd.ctl</c>).</summary>
    public string? Scanner { get; init; }
}
