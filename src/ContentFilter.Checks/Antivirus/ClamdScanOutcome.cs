namespace ContentFilter.Checks.Antivirus;

/// <summary>The outcome of one INSTREAM scan.</summary>
/// <param name="Status">How it ended.</param>
/// <param name="Viruses">Every virus name reported, in order (with <c>.UNOFFICIAL</c> where clamd adds it).</param>
/// <param name="Server">The server that answered (or the last one tried).</param>
/// <param name="Detail">For failures: what went wrong with each server tried.</param>
public sealed record ClamdScanOutcome(ClamdScanStatus Status, IReadOnlyList<string> Viruses, string? Server, string? Detail);
