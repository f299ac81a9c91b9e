using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Pipeline.Checks;

/// <summary>The intent of one listener: which direction its mail has and which checks run on it.</summary>
/// <remarks>
/// amavis's policy banks, reduced to what an admin sets per port: 10024 inbound (all checks but signing),
/// 10026 originating (virus scan and DKIM signing, no spam tagging).
/// </remarks>
public sealed record ListenerPolicy
{
    /// <summary>The default inbound policy.</summary>
    public static ListenerPolicy DefaultInbound { get; } = new() { Name = "inbound", Direction = MessageDirection.Inbound };

    /// <summary>Listener name, used in logs and the audit record.</summary>
    public required string Name { get; init; }

    /// <summary>Direction of all mail on this listener.</summary>
    public MessageDirection Direction { get; init; }

    /// <summary>Names of checks to run; <c>null</c> means every enabled check that applies to <see cref="Direction"/>.</summary>
    public IReadOnlySet<string>? Checks { get; init; }

    /// <summary>True when the check named <paramref name="name"/> is to run here.</summary>
    public bool Runs(string name) => Checks is null || Checks.Contains(name);
}
