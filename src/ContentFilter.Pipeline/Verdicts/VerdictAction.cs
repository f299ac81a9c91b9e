namespace ContentFilter.Pipeline.Verdicts;

/// <summary>The one final action for a message.</summary>
public enum VerdictAction
{
    /// <summary>Hand the message on (with header edits). amavis: <c>Passed</c>.</summary>
    Deliver,

    /// <summary>Accept upstream and drop (no backscatter); quarantine if set. amavis: <c>Blocked ... {Discarded}</c>.</summary>
    Discard,

    /// <summary>Refuse permanently (5xx). In proxy mode Postfix bounces to the sender. amavis: <c>{Rejected}</c>.</summary>
    Reject,

    /// <summary>Refuse temporarily (4xx): Postfix keeps the message and retries. amavis: <c>{TempFailed}</c>.</summary>
    TempFail,
}
