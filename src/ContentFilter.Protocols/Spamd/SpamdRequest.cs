namespace ContentFilter.Protocols.Spamd;

/// <summary>The head of a spamd request; the message bytes follow it and are streamed by the client.</summary>
/// <param name="Command">The command.</param>
/// <param name="ContentLength">Exact number of message bytes that follow; null for PING.</param>
/// <param name="User">spamd's <c>User:</c> header (whose preferences apply), or null.</param>
public sealed record SpamdRequest(SpamdCommand Command, long? ContentLength, string? User = null);
