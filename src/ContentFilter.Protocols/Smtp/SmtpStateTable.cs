namespace ContentFilter.Protocols.Smtp;

/// <summary>Which commands each state allows, as data; the 503 texts come from the same table (STYLE.md example 5).</summary>
/// <remarks>
/// Behaviour and error text cannot drift apart because both are read from <see cref="Rows"/>. Commands not named in
/// a state's row are refused with that row's <see cref="Row.Otherwise"/> text, or with a per-command text.
/// NOOP, RSET, QUIT, HELP and VRFY are allowed everywhere (RFC 5321 §4.1.4). XFORWARD is refused inside a
/// transaction (XFORWARD_README). A new EHLO/HELO/LHLO is allowed at any time and resets the transaction.
/// </remarks>
public static class SmtpStateTable
{
    private static readonly SmtpVerb[] Always = { SmtpVerb.Noop, SmtpVerb.Rset, SmtpVerb.Quit, SmtpVerb.Help, SmtpVerb.Vrfy, SmtpVerb.Ehlo, SmtpVerb.Helo, SmtpVerb.Lhlo };

    /// <summary>One state's row.</summary>
    /// <param name="State">The state.</param>
    /// <param name="Allowed">Commands accepted in this state (besides those allowed everywhere).</param>
    /// <param name="Refusals">Specific texts for refused commands.</param>
    /// <param name="Otherwise">Text for other refused commands.</param>
    public sealed record Row(SmtpState State, IReadOnlyList<SmtpVerb> Allowed, IReadOnlyDictionary<SmtpVerb, string> Refusals, string Otherwise);

    /// <summary>The table.</summary>
    public static IReadOnlyList<Row> Rows { get; } = new[]
    {
        new Row(SmtpState.Connected, new[] { SmtpVerb.Xforward },
            new Dictionary<SmtpVerb, string>(), "Error: send HELO/EHLO first"),
        new Row(SmtpState.Ready, new[] { SmtpVerb.Mail, SmtpVerb.Xforward },
            new Dictionary<SmtpVerb, string> { [SmtpVerb.Rcpt] = "Error: need MAIL command", [SmtpVerb.Data] = "Error: need RCPT command" }, "Error: need MAIL command"),
        new Row(SmtpState.MailGiven, new[] { SmtpVerb.Rcpt },
            new Dictionary<SmtpVerb, string> { [SmtpVerb.Mail] = "Error: nested MAIL command", [SmtpVerb.Data] = "Error: need RCPT command", [SmtpVerb.Xforward] = "Error: MAIL transaction in progress" }, "Error: need RCPT command"),
        new Row(SmtpState.RcptGiven, new[] { SmtpVerb.Rcpt, SmtpVerb.Data },
            new Dictionary<SmtpVerb, string> { [SmtpVerb.Mail] = "Error: nested MAIL command", [SmtpVerb.Xforward] = "Error: MAIL transaction in progress" }, "Error: command not allowed in a transaction"),
    };

    /// <summary>True when <paramref name="verb"/> is allowed in <paramref name="state"/>; otherwise <paramref name="refusal"/> is the 503 text.</summary>
    /// <remarks>The reply is <c>503 5.5.1 {refusal}</c> (RFC 5321 §4.2.4 "bad sequence of commands").</remarks>
    public static bool IsAllowed(SmtpState state, SmtpVerb verb, out string? refusal)
    {
        refusal = null;
        if (Array.IndexOf(Always, verb) >= 0)
        {
            return true;
        }
        Row row = Rows[(int)state];
        if (row.Allowed.Contains(verb))
        {
            return true;
        }
        refusal = row.Refusals.TryGetValue(verb, out string? text) ? text : row.Otherwise;
        return false;
    }

    /// <summary>The basic and enhanced code of every refusal from this table.</summary>
    public const int RefusalCode = 503;

    /// <summary>The enhanced code of every refusal from this table (RFC 3463: 5.5.1 invalid command).</summary>
    public const string RefusalEnhancedCode = "5.5.1";
}
