using System.Text;
using ContentFilter.Protocols.Smtp;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Protocols.Tests.Smtp;

public class SmtpCommandParserTests
{
    private static SmtpCommand Parse(string line)
    {
        Assert.True(SmtpCommandParser.TryParse(Encoding.UTF8.GetBytes(line), out SmtpCommand? c, out SmtpError e), $"{line}: {e}");
        return c!;
    }

    private static SmtpError Fail(string line)
    {
        Assert.False(SmtpCommandParser.TryParse(Encoding.UTF8.GetBytes(line), out _, out SmtpError e));
        return e;
    }

    [Theory]
    [InlineData("EHLO mail.example.org", SmtpVerb.Ehlo)]
    [InlineData("ehlo [127.0.0.1]", SmtpVerb.Ehlo)]
    [InlineData("HELO x", SmtpVerb.Helo)]
    [InlineData("LHLO x", SmtpVerb.Lhlo)]
    public void TryParse_Hello_ReadsDomain(string line, SmtpVerb verb)
    {
        var h = Assert.IsType<SmtpCommand.Hello>(Parse(line));
        Assert.Equal(verb, h.Kind);
        Assert.Equal(line[5..], h.Domain);
    }

    [Fact]
    public void TryParse_EhloWithoutDomain_SyntaxError() => Assert.Equal(SmtpError.SyntaxError, Fail("EHLO"));

    [Fact]
    public void TryParse_MailWithParameters_KeepsThemRaw()
    {
        var m = Assert.IsType<SmtpCommand.Mail>(Parse("MAIL FROM:<a@example.org> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1 SMTPUTF8"));
        Assert.Equal("a@example.org", m.ReversePath);
        Assert.Equal(new[] { "SIZE=1234", "BODY=8BITMIME", "RET=HDRS", "ENVID=QQ+2B1", "SMTPUTF8" }, m.Parameters);
        Assert.Equal(1234, m.Size);
        Assert.True(m.EightBitMime);
        Assert.True(m.SmtpUtf8);
    }

    [Fact]
    public void TryParse_NullSender_Empty()
    {
        var m = Assert.IsType<SmtpCommand.Mail>(Parse("mail from:<>"));
        Assert.Equal(string.Empty, m.ReversePath);
        Assert.Null(m.Size);
    }

    [Fact]
    public void TryParse_SpaceAfterColonAndSourceRoute_Accepted()
    {
        var m = Assert.IsType<SmtpCommand.Mail>(Parse("MAIL FROM: <@relay.example,@b.example:a@example.org>"));
        Assert.Equal("a@example.org", m.ReversePath);
    }

    [Fact]
    public void TryParse_QuotedLocalPart_Kept()
    {
        var r = Assert.IsType<SmtpCommand.Rcpt>(Parse("RCPT TO:<\"john > doe\"@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;john+40example.org"));
        Assert.Equal("\"john > doe\"@example.org", r.ForwardPath);
        Assert.Equal(new[] { "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;john+40example.org" }, r.Parameters);
    }

    [Fact]
    public void TryParse_RcptPostmaster_Accepted()
    {
        Assert.Equal("Postmaster", Assert.IsType<SmtpCommand.Rcpt>(Parse("RCPT TO:<Postmaster>")).ForwardPath);
    }

    [Fact]
    public void TryParse_Utf8Address_Accepted()
    {
        var r = Assert.IsType<SmtpCommand.Rcpt>(Parse("RCPT TO:<jörg@bücher.example>"));
        Assert.True(SmtpCommandParser.IsNonAscii(r.ForwardPath));
    }

    [Theory]
    [InlineData("MAIL FROM:a@example.org", SmtpError.BadReversePath)]
    [InlineData("MAIL FROM:<a@example.org", SmtpError.BadReversePath)]
    [InlineData("MAIL FROM:<a b@example.org>", SmtpError.BadReversePath)]
    [InlineData("MAIL FROM:<nodomain>", SmtpError.BadReversePath)]
    [InlineData("MAIL FROM:<a@>", SmtpError.BadReversePath)]
    [InlineData("MAIL TO:<a@example.org>", SmtpError.SyntaxError)]
    [InlineData("MAIL FROM:<a@example.org>junk", SmtpError.BadReversePath)]
    [InlineData("MAIL FROM:<a@example.org> SIZE=abc", SmtpError.BadParameterValue)]
    [InlineData("MAIL FROM:<a@example.org> BODY=9BIT", SmtpError.BadParameterValue)]
    [InlineData("MAIL FROM:<a@example.org> SMTPUTF8=yes", SmtpError.BadParameterValue)]
    [InlineData("MAIL FROM:<a@example.org> AUTH=<>", SmtpError.UnsupportedParameter)]
    [InlineData("MAIL FROM:<a@example.org> SIZE=1 SIZE=2", SmtpError.SyntaxError)]
    [InlineData("MAIL FROM:<a@example.org> =x", SmtpError.SyntaxError)]
    [InlineData("RCPT TO:<>", SmtpError.BadForwardPath)]
    [InlineData("RCPT TO:<a@example.org> NOTIFY=SOMETIMES", SmtpError.BadParameterValue)]
    [InlineData("RCPT TO:<a@example.org> ORCPT=nosemicolon", SmtpError.BadParameterValue)]
    [InlineData("RCPT TO:<a@example.org> FOO", SmtpError.UnsupportedParameter)]
    [InlineData("DATA now", SmtpError.SyntaxError)]
    [InlineData("VRFY", SmtpError.SyntaxError)]
    [InlineData("FOO bar", SmtpError.UnknownCommand)]
    [InlineData("", SmtpError.UnknownCommand)]
    [InlineData("BDAT 10 LAST", SmtpError.NotImplemented)]
    [InlineData("STARTTLS", SmtpError.NotImplemented)]
    [InlineData("NOOP a\rb", SmtpError.SyntaxError)]
    [InlineData("NOOP a\u0000b", SmtpError.NulCharacter)]
    public void TryParse_BadInput_FailsWithReason(string line, SmtpError expected) => Assert.Equal(expected, Fail(line));

    [Fact]
    public void TryParse_InvalidUtf8_SyntaxError()
    {
        Assert.False(SmtpCommandParser.TryParse(new byte[] { (byte)'N', (byte)'O', (byte)'O', (byte)'P', (byte)' ', 0xC3, 0x28 }, out _, out SmtpError e));
        Assert.Equal(SmtpError.SyntaxError, e);
    }

    [Theory]
    [InlineData("NOOP")]
    [InlineData("noop whatever")]
    [InlineData("HELP")]
    [InlineData("RSET")]
    [InlineData("QUIT")]
    [InlineData("DATA")]
    public void TryParse_SimpleCommands_Parse(string line) => Assert.IsType<SmtpCommand.Simple>(Parse(line));

    [Fact]
    public void TryParse_Xforward_DecodesXtextAndUnavailable()
    {
        var x = Assert.IsType<SmtpCommand.Xforward>(Parse("XFORWARD name=mail.example.org ADDR=IPV6:2001:db8::1 PORT=41532 proto=ESMTP HELO=[UNAVAILABLE] IDENT=3Hq1Z4bK9f SOURCE=REMOTE"));
        Assert.Equal(new[]
        {
            new XforwardAttribute("NAME", "mail.example.org"),
            new XforwardAttribute("ADDR", "2001:db8::1"),
            new XforwardAttribute("PORT", "41532"),
            new XforwardAttribute("PROTO", "ESMTP"),
            new XforwardAttribute("HELO", null),
            new XforwardAttribute("IDENT", "3Hq1Z4bK9f"),
            new XforwardAttribute("SOURCE", "REMOTE"),
        }, x.Attributes);
    }

    [Fact]
    public void TryParse_XforwardXtextHelo_Decoded()
    {
        var x = Assert.IsType<SmtpCommand.Xforward>(Parse("XFORWARD HELO=a+20b+2Bc+3D ADDR=[unavailable]"));
        Assert.Equal("a b+c=", x.Attributes[0].Value);
        Assert.Null(x.Attributes[1].Value);
    }

    [Theory]
    [InlineData("XFORWARD")]
    [InlineData("XFORWARD FOO=bar")]
    [InlineData("XFORWARD NAME")]
    [InlineData("XFORWARD ADDR=not-an-ip")]
    [InlineData("XFORWARD PORT=70000")]
    [InlineData("XFORWARD HELO=a+2")]
    [InlineData("XFORWARD HELO=a+ZZ")]
    public void TryParse_BadXforward_Refused(string line)
    {
        SmtpError e = Fail(line);
        Assert.True(e is SmtpError.BadXforwardAttribute or SmtpError.SyntaxError, e.ToString());
    }

    [Fact]
    public void TryParse_XforwardValueOver255_Refused()
    {
        Assert.Equal(SmtpError.BadXforwardAttribute, Fail("XFORWARD NAME=" + new string('a', 256)));
    }

    private static readonly Gen<string> Atom = Gen.Elements("a", "b", "z", "0", "9", "-", "_", "+", "=", "é", "ü")
        .NonEmptyListOf().Select(l => string.Concat(l));

    private static readonly Gen<string> Address = Gen.Zip(Atom, Gen.Elements("example.org", "b.example", "[192.0.2.1]", "xn--bcher-kva.example"))
        .Select(t => t.Item1 + "@" + t.Item2);

    private static readonly Gen<string[]> RcptParams = Gen.Elements(
            new string[0],
            new[] { "NOTIFY=NEVER" },
            new[] { "NOTIFY=SUCCESS,DELAY", "ORCPT=rfc822;x+2By@example.org" },
            new[] { "ORCPT=utf-8;caf+E9" });

    [Property(MaxTest = 300)]
    public Property TryParse_FormattedRcpt_RoundTrips() =>
        Prop.ForAll(Address.ToArbitrary(), RcptParams.ToArbitrary(), (address, parameters) =>
        {
            string line = "RCPT TO:<" + address + ">" + string.Concat(parameters.Select(p => " " + p));
            return SmtpCommandParser.TryParse(Encoding.UTF8.GetBytes(line), out SmtpCommand? c, out _)
                && c is SmtpCommand.Rcpt r && r.ForwardPath == address && r.Parameters.SequenceEqual(parameters);
        });

    [Property(MaxTest = 300)]
    public Property TryParse_XforwardOfEncodedValues_RoundTrips() =>
        Prop.ForAll(Gen.Elements("NAME", "HELO", "IDENT", "PROTO", "SOURCE").ToArbitrary(), Atom.ToArbitrary(), (name, value) =>
        {
            string line = "XFORWARD " + name + "=" + Xtext.Encode(value);
            return SmtpCommandParser.TryParse(Encoding.UTF8.GetBytes(line), out SmtpCommand? c, out _)
                && c is SmtpCommand.Xforward x && x.Attributes.Single() == new XforwardAttribute(name, value);
        });

    [Property]
    public bool Xtext_EncodeThenDecode_Identity(NonNull<string> text)
    {
        string s = text.Get;
        if (!Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)).Equals(s, StringComparison.Ordinal))
        {
            return true; // lone surrogates are not text
        }
        string encoded = Xtext.Encode(s);
        return encoded.All(c => c is >= '!' and <= '~' && c != '=') && Xtext.TryDecode(encoded, out string back) && back == s;
    }
}
