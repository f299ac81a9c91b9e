using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Protocols.Tests.Smtp;

public class SmtpStateTableTests
{
    [Theory]
    [InlineData(SmtpState.Connected, SmtpVerb.Mail, "Error: send HELO/EHLO first")]
    [InlineData(SmtpState.Ready, SmtpVerb.Rcpt, "Error: need MAIL command")]
    [InlineData(SmtpState.Ready, SmtpVerb.Data, "Error: need RCPT command")]
    [InlineData(SmtpState.MailGiven, SmtpVerb.Data, "Error: need RCPT command")]
    [InlineData(SmtpState.MailGiven, SmtpVerb.Mail, "Error: nested MAIL command")]
    [InlineData(SmtpState.RcptGiven, SmtpVerb.Xforward, "Error: MAIL transaction in progress")]
    public void IsAllowed_OutOfOrder_RefusedWithText(SmtpState state, SmtpVerb verb, string text)
    {
        Assert.False(SmtpStateTable.IsAllowed(state, verb, out string? refusal));
        Assert.Equal(text, refusal);
    }

    [Theory]
    [InlineData(SmtpState.Connected, SmtpVerb.Xforward)]
    [InlineData(SmtpState.Ready, SmtpVerb.Mail)]
    [InlineData(SmtpState.MailGiven, SmtpVerb.Rcpt)]
    [InlineData(SmtpState.RcptGiven, SmtpVerb.Data)]
    [InlineData(SmtpState.RcptGiven, SmtpVerb.Rcpt)]
    [InlineData(SmtpState.RcptGiven, SmtpVerb.Rset)]
    [InlineData(SmtpState.MailGiven, SmtpVerb.Ehlo)]
    public void IsAllowed_InOrder_Allowed(SmtpState state, SmtpVerb verb)
    {
        Assert.True(SmtpStateTable.IsAllowed(state, verb, out string? refusal));
        Assert.Null(refusal);
    }

    [Fact]
    public void Rows_OnePerStateInEnumOrder()
    {
        Assert.Equal(Enum.GetValues<SmtpState>(), SmtpStateTable.Rows.Select(r => r.State));
    }
}
