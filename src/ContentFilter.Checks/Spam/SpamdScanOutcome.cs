using ContentFilter.Protocols.Spamd;

namespace ContentFilter.Checks.Spam;

/// <summary>The outcome of one spamd request.</summary>
/// <param name="Response">The EX_OK response, or null when every server failed.</param>
/// <param name="Server">The server that answered (or the last one tried).</param>
/// <param name="Detail">For failures: what went wrong with each server tried.</param>
public sealed record SpamdScanOutcome(SpamdResponse? Response, string? Server, string? Detail)
{
    /// <summary>True when a server answered EX_OK with a parsed <c>Spam:</c> header.</summary>
    public bool Succeeded => Response is { IsOk: true, Score: not null };
}
