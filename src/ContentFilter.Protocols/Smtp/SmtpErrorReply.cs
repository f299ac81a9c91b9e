namespace ContentFilter.Protocols.Smtp;

/// <summary>The one reply each <see cref="SmtpError"/> earns: basic code, RFC 3463 enhanced code, text.</summary>
public static class SmtpErrorReply
{
    /// <summary>The basic reply code.</summary>
    public static int Code(SmtpError error) => error switch
    {
        SmtpError.LineTooLong or SmtpError.NulCharacter or SmtpError.UnknownCommand => 500,
        SmtpError.NotImplemented => 502,
        SmtpError.UnsupportedParameter => 555,
        _ => 501,
    };

    /// <summary>The enhanced status code (RFC 3463).</summary>
    public static string EnhancedCode(SmtpError error) => error switch
    {
        SmtpError.LineTooLong or SmtpError.NulCharacter => "5.5.2",
        SmtpError.UnknownCommand or SmtpError.NotImplemented => "5.5.1",
        SmtpError.BadReversePath => "5.1.7",
        SmtpError.BadForwardPath => "5.1.3",
        _ => "5.5.4",
    };

    /// <summary>The text.</summary>
    public static string Text(SmtpError error) => error switch
    {
        SmtpError.LineTooLong => "Line too long",
        SmtpError.NulCharacter => "NUL character not allowed",
        SmtpError.UnknownCommand => "Error: command not recognized",
        SmtpError.NotImplemented => "Error: command not implemented",
        SmtpError.BadReversePath => "Bad sender address syntax",
        SmtpError.BadForwardPath => "Bad recipient address syntax",
        SmtpError.UnsupportedParameter => "Unsupported option",
        SmtpError.BadParameterValue => "Bad parameter value",
        SmtpError.BadXforwardAttribute => "Bad XFORWARD attribute",
        _ => "Syntax error in parameters",
    };
}
