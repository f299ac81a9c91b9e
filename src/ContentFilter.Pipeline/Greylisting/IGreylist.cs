using System.Net;

namespace ContentFilter.Pipeline.Greylisting;

/// <summary>A greylisting question: one triplet at RCPT time (postgrey's inputs).</summary>
/// <param name="ClientAddress">Client IP.</param>
/// <param name="ClientName">Verified client name, or <c>unknown</c>.</param>
/// <param name="Sender">Envelope sender; empty for <c>&lt;&gt;</c>.</param>
/// <param name="Recipient">Envelope recipient.</param>
/// <param name="Instance">Postfix's per-message instance id (one X-Greylist header per instance), or null.</param>
/// <param name="Helo">HELO name, or null.</param>
public sealed record GreylistRequest(IPAddress ClientAddress, string ClientName, string Sender, string Recipient, string? Instance, string? Helo);

/// <summary>What greylisting decided.</summary>
public enum GreylistAction
{
    /// <summary>Let it through (whitelisted, auto-whitelisted, or waited long enough).</summary>
    Pass,

    /// <summary>Defer: <c>DEFER_IF_PERMIT</c> (policy) or a 450 at RCPT (milter).</summary>
    Defer,
}

/// <summary>The decision with postgrey's reason words and texts.</summary>
/// <param name="Action">Pass or defer.</param>
/// <param name="Reason">postgrey's log reason: <c>new</c>, <c>early-retry (N s missing)</c>, <c>triplet found</c>, <c>client whitelist</c> ...</param>
/// <param name="DeferText">For Defer: the text after <c>DEFER_IF_PERMIT</c> (e.g. <c>4.2.0 Greylisted, see ...</c>).</param>
/// <param name="PrependHeader">For the first pass after a delay: the header to add (<c>X-Greylist: delayed N seconds by ...</c>).</param>
public sealed record GreylistDecision(GreylistAction Action, string Reason, string? DeferText, string? PrependHeader);

/// <summary>Greylisting, as the policy server and the milter ask it.</summary>
public interface IGreylist
{
    /// <summary>Decides for one triplet and records it.</summary>
    Task<GreylistDecision> CheckAsync(GreylistRequest request, CancellationToken cancellationToken);
}
