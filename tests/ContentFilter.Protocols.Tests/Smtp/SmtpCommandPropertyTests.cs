using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Smtp;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Protocols.Tests.Smtp;

/// <summary>Properties of the command line reader and parser on hostile input (issue 8, fuzzing).</summary>
public class SmtpCommandPropertyTests
{
    private static readonly Gen<byte[]> Soup = Gen.Elements(
            "MAIL FROM:", "RCPT TO:", "EHLO ", "XFORWARD ", "ADDR=", "<", ">", "<>", "a", "@", "b.example", "\"q r\"", " ", " SIZE=10",
            " BODY=8BITMIME", " SMTPUTF8", "\r\n", "\n", "\r", "\0", "\u00e9", "x", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
        .ListOf()
        .Select(parts => Encoding.UTF8.GetBytes(string.Concat(parts)));

    private static List<(string? Line, SmtpError Error)> ReadAll(SmtpCommandLineReader lines, IEnumerable<byte[]> pieces)
    {
        var result = new List<(string?, SmtpError)>();
        byte[] pending = [];
        foreach (byte[] piece in pieces)
        {
            ReadOnlySequence<byte> seq = Sequences.Of(pending, piece);
            var reader = new SequenceReader<byte>(seq);
            while (true)
            {
                if (lines.TryRead(ref reader, out ReadOnlySequence<byte> line, out SmtpError error))
                {
                    result.Add((Encoding.Latin1.GetString(line.ToArray()), SmtpError.None));
                }
                else if (error != SmtpError.None)
                {
                    result.Add((null, error));
                }
                else
                {
                    break;
                }
            }
            pending = seq.Slice(reader.Position).ToArray();
        }
        return result;
    }

    [Property(MaxTest = 300)]
    public Property LineReader_AnySplit_SameLinesAndErrorsAsWhole() =>
        Prop.ForAll(Soup.ToArbitrary(), Gen.Choose(1, 40).ToArbitrary(), (input, cut) =>
        {
            var whole = ReadAll(new SmtpCommandLineReader(16, 40), [input]);
            var split = ReadAll(new SmtpCommandLineReader(16, 40), Sequences.Cut(input, cut, cut * 2, cut * 5));
            return whole.SequenceEqual(split);
        });

    [Property(MaxTest = 300)]
    public Property LineReader_AnyInput_LinesWithinCapWithoutLfOrNul() =>
        Prop.ForAll(Soup.ToArbitrary(), input =>
            ReadAll(new SmtpCommandLineReader(16, 40), [input])
                .All(r => r.Line is null ? r.Error is SmtpError.LineTooLong or SmtpError.NulCharacter : r.Line.Length + 2 <= 40 && !r.Line.Contains('\n') && !r.Line.Contains('\0')));

    /// <summary>Whatever the bytes: no exception, and a parsed path or parameter can never carry CR, LF or another control into the next hop's command.</summary>
    [Property(MaxTest = 500)]
    public Property Parser_AnyLine_NeverThrowsAndPathsHoldNoControl() =>
        Prop.ForAll(Gen.OneOf(Soup, ArbMap.Default.GeneratorFor<byte[]>()).ToArbitrary(), line =>
        {
            bool ok = SmtpCommandParser.TryParse(line, out SmtpCommand? command, out SmtpError error);
            string[] texts = command switch
            {
                SmtpCommand.Mail m => [m.ReversePath, .. m.Parameters],
                SmtpCommand.Rcpt r => [r.ForwardPath, .. r.Parameters],
                SmtpCommand.Hello h => [h.Domain],
                _ => [],
            };
            return ok == (error == SmtpError.None) && ok == (command is not null) && texts.All(t => !t.Any(c => c < ' ' || c == '\u007f'));
        });

    private static readonly Gen<string> LocalPart = Gen.Elements("a", "b.c", "x-y", "_", "+tag", "\u00e9", "\"q r\"", "0")
        .NonEmptyListOf().Select(l => string.Concat(l));

    private static readonly Gen<string[]> MailParams = Gen.Elements(
        new string[0],
        new[] { "SIZE=12345" },
        new[] { "BODY=8BITMIME", "SMTPUTF8" },
        new[] { "RET=HDRS", "ENVID=QQ314159+2B" },
        new[] { "SIZE=99999999999999999999" });

    /// <summary>A path with a second source route is refused: what the checks see must be what the next hop delivers for.</summary>
    /// <remarks>Found by the smtp-command fuzz target's round trip: <c>&lt;@x:@y:z@w&gt;</c> parsed as <c>@y:z@w</c>, which reads back as <c>z@w</c>.</remarks>
    [Theory]
    [InlineData("MAIL FROM:<@x:@y:z@w>", SmtpError.BadReversePath)]
    [InlineData("RCPT TO:<@a:@b:c@d>", SmtpError.BadForwardPath)]
    public void Parser_PathWithTwoRoutes_Refused(string line, SmtpError expected)
    {
        Assert.False(SmtpCommandParser.TryParse(Encoding.ASCII.GetBytes(line), out _, out SmtpError error));
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData("MAIL FROM:<@x:z@w>", "z@w")]
    [InlineData("MAIL FROM:<@x,@y:z@w>", "z@w")]
    public void Parser_PathWithOneRoute_RouteDropped(string line, string path)
    {
        Assert.True(SmtpCommandParser.TryParse(Encoding.ASCII.GetBytes(line), out SmtpCommand? c, out _));
        Assert.Equal(path, Assert.IsType<SmtpCommand.Mail>(c).ReversePath);
    }

    [Property(MaxTest = 300)]
    public Property Parser_FormattedMail_RoundTrips() =>
        Prop.ForAll(Gen.Zip(LocalPart, Gen.Elements("example.org", "[192.0.2.1]", "[IPv6:2001:db8::1]")).ToArbitrary(), MailParams.ToArbitrary(), (address, parameters) =>
        {
            string path = address.Item1 + "@" + address.Item2;
            string line = "MAIL FROM:<" + path + ">" + string.Concat(parameters.Select(p => " " + p));
            return SmtpCommandParser.TryParse(Encoding.UTF8.GetBytes(line), out SmtpCommand? c, out _)
                && c is SmtpCommand.Mail m && m.ReversePath == path && m.Parameters.SequenceEqual(parameters)
                && m.EightBitMime == parameters.Contains("BODY=8BITMIME") && m.SmtpUtf8 == parameters.Contains("SMTPUTF8");
        });
}
