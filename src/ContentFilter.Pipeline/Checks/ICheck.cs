namespace ContentFilter.Pipeline.Checks;

/// <summary>A check over one message. One file per check; the pipeline runs them with a timeout each.</summary>
/// <remarks>
/// Implementations read the message only through <see cref="MessageContext"/> (a read-only spool view), must stream
/// rather than load the message, and return a typed <see cref="CheckResult"/>. Exceptions are caught by the
/// pipeline and become <see cref="CheckStatus.Failed"/>.
/// </remarks>
public interface ICheck
{
    /// <summary>Stable lowercase name, used in configuration (<c>Checks</c> lists), logs and the audit record.</summary>
    string Name { get; }

    /// <summary>Runs the check.</summary>
    ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken);
}
