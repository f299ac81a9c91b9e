namespace ContentFilter.Checks.Antivirus;

/// <summary>Health of one clamd: PING answered, and its VERSION (engine and database) when it did.</summary>
/// <param name="Server">The address.</param>
/// <param name="Alive">True when <c>zPING</c> got <c>PONG</c>.</param>
/// <param name="Version">The <c>zVERSION</c> reply (<c>ClamAV 1.4.6/27000/...</c>), when known.</param>
/// <param name="Error">Why it is not alive.</param>
public sealed record ClamdHealth(string Server, bool Alive, string? Version, string? Error);
