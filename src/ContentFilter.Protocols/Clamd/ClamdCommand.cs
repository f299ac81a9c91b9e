namespace ContentFilter.Protocols.Clamd;

/// <summary>The clamd commands we send, always in the NUL-terminated <c>z</c> form (clamd(8) "COMMANDS").</summary>
/// <remarks>
/// The <c>z</c> prefix makes clamd terminate its reply with NUL instead of a newline, so a virus name containing
/// odd characters can never be confused with the end of the reply. One command per connection (no IDSESSION).
/// </remarks>
public enum ClamdCommand
{
    /// <summary><c>zPING\0</c>: liveness; clamd answers <c>PONG</c>.</summary>
    Ping,

    /// <summary><c>zVERSION\0</c>: <c>ClamAV 1.4.6/27000/Tue Nov 24 08:00:00 2026</c>.</summary>
    Version,

    /// <summary><c>zINSTREAM\0</c> then chunks of <c>uint32 big-endian length | bytes</c>, then a zero length.</summary>
    Instream,
}
