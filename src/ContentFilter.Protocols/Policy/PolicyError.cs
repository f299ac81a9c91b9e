namespace ContentFilter.Protocols.Policy;

/// <summary>Why a policy request could not be read. Each one ends the connection without a reply.</summary>
/// <remarks>
/// Postfix treats a closed connection as a failed query: it retries (<c>smtpd_policy_service_try_limit</c>) and then
/// applies <c>smtpd_policy_service_default_action</c> (SMTPD_POLICY_README, PROTOCOLS.md §5). Answering garbage with
/// an action would be worse: a guessed DUNNO could let mail skip a restriction.
/// </remarks>
public enum PolicyError
{
    /// <summary>No error.</summary>
    None,

    /// <summary>A line is longer than <see cref="PolicyLimits.MaxLineLength"/>.</summary>
    LineTooLong,

    /// <summary>More attribute lines than <see cref="PolicyLimits.MaxAttributes"/>.</summary>
    TooManyAttributes,

    /// <summary>The request is larger than <see cref="PolicyLimits.MaxRequestBytes"/>.</summary>
    RequestTooLarge,

    /// <summary>A non-empty line without <c>=</c> (Postfix's <c>attr_scan_plain</c> calls this malformed too).</summary>
    MissingEquals,

    /// <summary>A line starting with <c>=</c>: an attribute without a name.</summary>
    EmptyName,

    /// <summary>A NUL or other control byte (other than TAB) where only text is allowed: binary input, not Postfix.</summary>
    ControlCharacter,
}
