using ContentFilter.Checks.Dns;
using ContentFilter.Checks.Spf;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Checks.Greylisting;

/// <summary>Lets a client pass when SPF (RFC 7208 check_host) passes for the MAIL FROM domain (<c>Greylist:PassSpf</c>).</summary>
/// <remarks>
/// Greylisting exists to make a sender prove it retries; a domain that lists the client as its sender in DNS has
/// already said who may send for it, and big senders retry from another address of their pool, so the triplet
/// rarely repeats. Only <c>pass</c> counts: neutral, softfail, none and both errors are greylisted as usual, and so
/// is the null sender (the HELO identity is the client's own claim). The evaluation uses the same
/// <see cref="SpfEvaluator"/>, limits and resolver as the SPF check, bounded by <see cref="SpfOptions.TimeoutMs"/>;
/// a timeout is "not exempt", which only delays mail.
/// </remarks>
public sealed class SpfGreylistExemption : IGreylistExemption
{
    private readonly SpfEvaluator _evaluator;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    /// <summary>Creates the exemption.</summary>
    /// <param name="dns">The service's resolver.</param>
    /// <param name="options">The <c>Spf</c> section (limits, timeout, receiver name).</param>
    /// <param name="time">Clock for the timeout and <c>%{t}</c>.</param>
    /// <param name="timeout">
    /// Bound for one evaluation; default <see cref="SpfOptions.TimeoutMs"/>. The host passes a shorter one when the
    /// door's own decision timeout is shorter, so that slow DNS ends as "not exempt" (greylisted) rather than as
    /// no answer at all.
    /// </param>
    public SpfGreylistExemption(IDnsResolver dns, SpfOptions options, TimeProvider time, TimeSpan? timeout = null)
    {
        options.Validate();
        _time = time;
        _timeout = timeout ?? TimeSpan.FromMilliseconds(options.TimeoutMs);
        string receiver = string.IsNullOrEmpty(options.ReceiverName) ? Environment.MachineName : options.ReceiverName;
        _evaluator = new SpfEvaluator(dns, options.Limits, time, receiver);
    }

    /// <inheritdoc />
    public string Reason => "spf pass";

    /// <inheritdoc />
    public async Task<bool> IsExemptAsync(GreylistRequest request, CancellationToken cancellationToken)
    {
        string domain = Envelope.DomainOf(request.Sender);
        if (domain.Length == 0)
        {
            return false;
        }
        using var timeout = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            SpfEvaluation evaluation = await _evaluator.CheckHostAsync(request.ClientAddress, domain, request.Sender, request.Helo ?? string.Empty, linked.Token).ConfigureAwait(false);
            return evaluation.Result == SpfResult.Pass;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
