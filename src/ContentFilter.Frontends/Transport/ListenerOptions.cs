using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Frontends.Transport;

/// <summary>One listener: where it binds, what it speaks, who may connect, how many at once.</summary>
/// <remarks>Validated at start-up (<see cref="Validate"/>); a bad listener stops the service with a clear message.</remarks>
public sealed class ListenerOptions
{
    /// <summary>Name for logs and the audit record (<c>inbound</c>, <c>originating</c>).</summary>
    public string Name { get; set; } = "inbound";

    /// <summary><c>127.0.0.1:10024</c>, <c>[::1]:10024</c> or <c>unix:/path</c> (socket created mode 0660). Port 0 binds any free port.</summary>
    public string Endpoint { get; set; } = "127.0.0.1:10024";

    /// <summary>The protocol spoken.</summary>
    public ListenerProtocol Protocol { get; set; } = ListenerProtocol.Smtp;

    /// <summary>Direction of all mail on this listener (10024 inbound, 10026 originating).</summary>
    public MessageDirection Direction { get; set; } = MessageDirection.Inbound;

    /// <summary>Check names to run here; null runs every enabled check.</summary>
    public List<string>? Checks { get; set; }

    /// <summary>Client networks (CIDR) allowed to connect. Empty = loopback only. Required when the endpoint is not loopback.</summary>
    public List<string> AllowedClients { get; set; } = new();

    /// <summary>Concurrent sessions; beyond, SMTP clients get <c>421 4.3.2</c> and others are closed. Default 100 (Postfix's default_process_limit).</summary>
    public int MaxSessions { get; set; } = 100;

    /// <summary>Set false to leave the listener off.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The check policy for messages on this listener.</summary>
    public ListenerPolicy ToListenerPolicy() => new()
    {
        Name = Name,
        Direction = Direction,
        Checks = Checks is null ? null : new HashSet<string>(Checks, StringComparer.OrdinalIgnoreCase),
    };

    /// <summary>Checks the options; returns one message per problem, each naming the listener.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        string prefix = $"listener '{Name}'";
        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add("a listener has no name");
        }
        if (!ListenEndpoint.TryParse(Endpoint, out ListenEndpoint? endpoint, out string? endpointError))
        {
            errors.Add($"{prefix}: Endpoint {endpointError}");
        }
        if (!ClientAllowList.TryParse(AllowedClients, out _, out string? allowError))
        {
            errors.Add($"{prefix}: AllowedClients: {allowError}");
        }
        if (endpoint is { IsLocal: false } && AllowedClients.Count == 0)
        {
            errors.Add($"{prefix}: Endpoint {endpoint} is not a loopback address, so AllowedClients must list the networks that may connect "
                + "(e.g. [\"192.0.2.10/32\"]); without it anyone could relay mail through the filter");
        }
        if (MaxSessions < 1)
        {
            errors.Add($"{prefix}: MaxSessions must be at least 1 (is {MaxSessions})");
        }
        return errors;
    }
}
