using ContentFilter.Pipeline.Greylisting;

namespace ContentFilter.Checks.Greylisting;

/// <summary>An exemption given as a function, e.g. the SPF check's "does SPF pass for this client and sender".</summary>
/// <remarks>The SPF evaluator belongs to another component; the host passes it in as a function so greylisting needs no reference to it.</remarks>
public sealed class DelegateGreylistExemption : IGreylistExemption
{
    private readonly Func<GreylistRequest, CancellationToken, Task<bool>> _predicate;

    /// <summary>Creates the exemption.</summary>
    /// <param name="reason">Log reason, e.g. <c>spf pass</c>.</param>
    /// <param name="predicate">True when the client may skip greylisting.</param>
    public DelegateGreylistExemption(string reason, Func<GreylistRequest, CancellationToken, Task<bool>> predicate)
    {
        Reason = reason;
        _predicate = predicate;
    }

    /// <inheritdoc />
    public string Reason { get; }

    /// <inheritdoc />
    public Task<bool> IsExemptAsync(GreylistRequest request, CancellationToken cancellationToken) => _predicate(request, cancellationToken);
}
