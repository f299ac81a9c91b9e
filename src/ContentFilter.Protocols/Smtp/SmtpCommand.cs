namespace ContentFilter.Protocols.Smtp;

/// <summary>One parsed command line. Commands are plain records; only sessions do I/O (STYLE.md example 5).</summary>
/// <param name="Verb">The command word.</param>
public abstract record SmtpCommand(SmtpVerb Verb)
{
    /// <summary><c>EHLO</c>, <c>HELO</c> or <c>LHLO</c> with the client's domain or address literal.</summary>
    public sealed record Hello(SmtpVerb Kind, string Domain) : SmtpCommand(Kind);

    /// <summary><c>MAIL FROM:&lt;reverse-path&gt; [params]</c>.</summary>
    /// <param name="ReversePath">The address without angle brackets or source route; empty for the null sender.</param>
    /// <param name="Parameters">ESMTP parameters exactly as received (<c>SIZE=123</c>, <c>RET=HDRS</c>, <c>SMTPUTF8</c>).</param>
    public sealed record Mail(string ReversePath, IReadOnlyList<string> Parameters) : SmtpCommand(SmtpVerb.Mail)
    {
        /// <summary>The declared size (RFC 1870), or null when absent.</summary>
        public long? Size { get; init; }

        /// <summary>True when <c>BODY=8BITMIME</c> was given (RFC 6152).</summary>
        public bool EightBitMime { get; init; }

        /// <summary>True when <c>SMTPUTF8</c> was given (RFC 6531 §3.4): UTF-8 addresses and headers follow.</summary>
        public bool SmtpUtf8 { get; init; }
    }

    /// <summary><c>RCPT TO:&lt;forward-path&gt; [params]</c>.</summary>
    /// <param name="ForwardPath">The address without angle brackets or source route.</param>
    /// <param name="Parameters">ESMTP parameters exactly as received (<c>NOTIFY=</c>, <c>ORCPT=</c>, RFC 3461).</param>
    public sealed record Rcpt(string ForwardPath, IReadOnlyList<string> Parameters) : SmtpCommand(SmtpVerb.Rcpt);

    /// <summary><c>XFORWARD name=value ...</c>, values already xtext-decoded.</summary>
    public sealed record Xforward(IReadOnlyList<XforwardAttribute> Attributes) : SmtpCommand(SmtpVerb.Xforward);

    /// <summary><c>VRFY string</c>.</summary>
    public sealed record Vrfy(string Argument) : SmtpCommand(SmtpVerb.Vrfy);

    /// <summary><c>NOOP</c>, <c>HELP</c>, <c>DATA</c>, <c>RSET</c>, <c>QUIT</c>: no arguments that matter.</summary>
    public sealed record Simple(SmtpVerb Kind) : SmtpCommand(Kind);
}
