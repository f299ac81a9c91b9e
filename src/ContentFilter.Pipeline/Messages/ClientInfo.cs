using System.Net;

namespace ContentFilter.Pipeline.Messages;

/// <summary>The SMTP client that handed the message to Postfix, as XFORWARD or milter macros describe it.</summary>
/// <remarks>
/// In proxy mode the TCP peer is Postfix itself; the original client comes from XFORWARD (XFORWARD_README).
/// Unknown values are <c>null</c> (XFORWARD's <c>[UNAVAILABLE]</c>).
/// </remarks>
public sealed record ClientInfo
{
    /// <summary>An empty description: nothing known.</summary>
    public static ClientInfo Unknown { get; } = new();

    /// <summary>Verified reverse DNS name (XFORWARD NAME), or <c>null</c> when unknown.</summary>
    public string? Name { get; init; }

    /// <summary>Client IP address (XFORWARD ADDR).</summary>
    public IPAddress? Address { get; init; }

    /// <summary>Client TCP port (XFORWARD PORT).</summary>
    public int? Port { get; init; }

    /// <summary>HELO/EHLO argument (XFORWARD HELO).</summary>
    public string? Helo { get; init; }

    /// <summary>SMTP, ESMTP or other protocol name (XFORWARD PROTO).</summary>
    public string? Protocol { get; init; }

    /// <summary>The upstream queue id (XFORWARD IDENT).</summary>
    public string? Ident { get; init; }

    /// <summary><c>LOCAL</c> or <c>REMOTE</c> (XFORWARD SOURCE).</summary>
    public string? Source { get; init; }
}
