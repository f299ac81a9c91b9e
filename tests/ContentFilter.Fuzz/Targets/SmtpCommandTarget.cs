using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Smtp;

namespace ContentFilter.Fuzz.Targets;

/// <summary>SMTP command lines: <see cref="SmtpCommandLineReader"/> then <see cref="SmtpCommandParser"/>.</summary>
/// <remarks>
/// Invariants: the same lines and errors whatever the piece sizes; no line holds LF or NUL or exceeds its cap; a
/// parsed MAIL/RCPT/HELO holds no control character (it is replayed to the next hop and must not inject a line);
/// and a parsed MAIL or RCPT written back as a command line parses to the same command.
/// </remarks>
internal static class SmtpCommandTarget
{
    public static void Run(byte[] data)
    {
        // Default caps, then small ones so that the skip-an-over-long-line path is reached with small inputs.
        foreach ((int max, int mailRcpt) in new[] { (SmtpCommandLineReader.DefaultMaxLineLength, SmtpCommandLineReader.DefaultMaxMailRcptLineLength), (16, 40) })
        {
            FeedResult<(byte[]? Line, SmtpError Error)> result = Feeder.FeedAllWays<(byte[]?, SmtpError)>(
                data,
                () => Step(new SmtpCommandLineReader(max, mailRcpt)),
                (a, b) => a.Item2 == b.Item2 && (a.Item1 ?? []).AsSpan().SequenceEqual(b.Item1 ?? []));
            foreach ((byte[]? line, SmtpError error) in result.Items)
            {
                if (line is null)
                {
                    FuzzInvariantException.Check(error is SmtpError.LineTooLong or SmtpError.NulCharacter, $"line reader error {error}");
                    continue;
                }
                FuzzInvariantException.Check(line.AsSpan().IndexOfAny((byte)'\n', (byte)0) < 0, "a line holds LF or NUL");
                FuzzInvariantException.Check(line.Length + 2 <= mailRcpt, $"a line of {line.Length} bytes passed a cap of {mailRcpt}");
                Parse(line);
            }
        }
        Parse(data);
    }

    private static ReadStep<(byte[]?, SmtpError)> Step(SmtpCommandLineReader lines) =>
        (ref SequenceReader<byte> reader, out (byte[]?, SmtpError) item, out string? error) =>
        {
            error = null;
            if (lines.TryRead(ref reader, out ReadOnlySequence<byte> line, out SmtpError e))
            {
                item = (line.ToArray(), SmtpError.None);
                return true;
            }
            item = (null, e);
            return e != SmtpError.None; // a refused line is a reply, and reading goes on
        };

    private static void Parse(byte[] line)
    {
        bool ok = SmtpCommandParser.TryParse(line, out SmtpCommand? command, out SmtpError error);
        ReadOnlySequence<byte> split = line.Length > 1 ? Chunking.Sequence(Chunking.Split(line, [line.Length / 2, line.Length - line.Length / 2])) : new ReadOnlySequence<byte>(line);
        bool ok2 = SmtpCommandParser.TryParse(split, out SmtpCommand? command2, out SmtpError error2);
        FuzzInvariantException.Check(ok == ok2 && error == error2 && Equals(command?.Verb, command2?.Verb), "a two-segment line parses differently");
        FuzzInvariantException.Check(ok == (command is not null) && ok == (error == SmtpError.None), $"TryParse returned {ok} with {error}");
        switch (command)
        {
            case SmtpCommand.Hello h:
                NoControl(h.Domain, "HELO domain");
                break;
            case SmtpCommand.Mail m:
                NoControl(m.ReversePath, "reverse-path");
                m.Parameters.ToList().ForEach(p => NoControl(p, "MAIL parameter"));
                string mailLine = "MAIL FROM:<" + m.ReversePath + ">" + string.Concat(m.Parameters.Select(p => " " + p));
                FuzzInvariantException.Check(
                    SmtpCommandParser.TryParse(Encoding.UTF8.GetBytes(mailLine), out SmtpCommand? again, out _) && again is SmtpCommand.Mail m2
                        && m2.ReversePath == m.ReversePath && m2.Parameters.SequenceEqual(m.Parameters) && m2.Size == m.Size
                        && m2.EightBitMime == m.EightBitMime && m2.SmtpUtf8 == m.SmtpUtf8,
                    $"MAIL written back as \"{mailLine}\" does not parse to the same command");
                break;
            case SmtpCommand.Rcpt r:
                NoControl(r.ForwardPath, "forward-path");
                r.Parameters.ToList().ForEach(p => NoControl(p, "RCPT parameter"));
                string rcptLine = "RCPT TO:<" + r.ForwardPath + ">" + string.Concat(r.Parameters.Select(p => " " + p));
                FuzzInvariantException.Check(
                    SmtpCommandParser.TryParse(Encoding.UTF8.GetBytes(rcptLine), out SmtpCommand? again2, out _) && again2 is SmtpCommand.Rcpt r2
                        && r2.ForwardPath == r.ForwardPath && r2.Parameters.SequenceEqual(r.Parameters),
                    $"RCPT written back as \"{rcptLine}\" does not parse to the same command");
                break;
            case SmtpCommand.Xforward x:
                foreach (XforwardAttribute a in x.Attributes)
                {
                    // The proxy re-encodes values with xtext before they reach the next hop: that must always be printable.
                    string encoded = XtextEncoder.Encode(a.Value ?? string.Empty);
                    FuzzInvariantException.Check(encoded.All(c => c is > ' ' and < '\u007f'), "xtext encoding is not printable");
                }
                break;
        }
    }

    private static void NoControl(string value, string what) =>
        FuzzInvariantException.Check(!value.Any(c => c < ' ' || c == '\u007f'), $"{what} holds a control character");
}
