using System.Buffers;
using System.Globalization;
using System.Text;
using ContentFilter.Protocols.Spamd;
using ContentFilter.Protocols.Tests.Smtp;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Protocols.Tests.Spamd;

/// <summary>Round trips of spamd responses and piece-size independence (issue 8, fuzzing).</summary>
public class SpamdPropertyTests
{
    private static readonly Gen<string> Symbols = Gen.Elements("GTUBE", "MISSING_DATE", "NO_RELAYS", "BAYES_50", "\u00e9").ListOf()
        .Select(l => string.Join(",", l));

    private static readonly Gen<double> Score = Gen.Choose(-100_000, 100_000).Select(n => n / 10.0);

    private static byte[] Wire(bool spam, double score, double threshold, string body, bool withLength, bool crlf)
    {
        string eol = crlf ? "\r\n" : "\n";
        byte[] bodyBytes = Encoding.UTF8.GetBytes(body);
        string head = "SPAMD/1.1 0 EX_OK" + eol
            + (withLength ? "Content-length: " + bodyBytes.Length.ToString(CultureInfo.InvariantCulture) + eol : string.Empty)
            + "Spam: " + (spam ? "True" : "False") + " ; " + score.ToString("0.0", CultureInfo.InvariantCulture) + " / "
            + threshold.ToString("0.0", CultureInfo.InvariantCulture) + eol + eol;
        return [.. Encoding.UTF8.GetBytes(head), .. bodyBytes];
    }

    /// <summary>A response written as spamd writes it (with or without Content-length, CRLF or LF) reads back exactly, in any segments.</summary>
    [Property(MaxTest = 300)]
    public Property Reader_WrittenResponse_RoundTripsInAnySegments() =>
        Prop.ForAll(Gen.Zip(Gen.Elements(true, false), Gen.Zip(Score, Score)).ToArbitrary(), Symbols.ToArbitrary(), Gen.Zip(Gen.Elements(true, false), Gen.Choose(1, 30)).ToArbitrary(),
            (verdict, body, how) =>
            {
                (bool spam, (double, double) scores) = verdict;
                (bool withLength, int cut) = how;
                byte[] wire = Wire(spam, scores.Item1, scores.Item2, body, withLength, crlf: cut % 2 == 0);
                var reader = new SequenceReader<byte>(Sequences.Of(Sequences.Cut(wire, cut, cut * 3)));
                bool ok = SpamdResponseReader.TryRead(ref reader, isFinalBlock: true, SpamdLimits.Default, out SpamdResponse r, out SpamdError error);
                return ok && error == SpamdError.None && reader.End && r.IsOk && r.IsSpam == spam && r.Score == scores.Item1
                    && r.Threshold == scores.Item2 && r.Body == body && r.Symbols.SequenceEqual(body.Split(',', StringSplitOptions.RemoveEmptyEntries));
            });

    /// <summary>
    /// Any bytes: a prefix (more to come) either needs more, fails as the whole input fails, or is already the
    /// whole input's response; more bytes never change a complete response.
    /// </summary>
    [Property(MaxTest = 500)]
    public Property Reader_AnyPrefix_AgreesWithTheWholeInput() =>
        Prop.ForAll(Gen.OneOf(Gen.Constant(Wire(true, 7.5, 5, "A,B", true, true)), ArbMap.Default.GeneratorFor<byte[]>()).ToArbitrary(), ArbMap.Default.ArbFor<byte[]>(), Gen.Choose(0, 200).ToArbitrary(),
            (head, tail, cutAt) =>
            {
                byte[] input = [.. head, .. tail];
                int cut = Math.Min(cutAt, input.Length);
                var whole = new SequenceReader<byte>(new ReadOnlySequence<byte>(input));
                bool okWhole = SpamdResponseReader.TryRead(ref whole, false, SpamdLimits.Default, out SpamdResponse rWhole, out SpamdError eWhole);
                var prefix = new SequenceReader<byte>(new ReadOnlySequence<byte>(input, 0, cut));
                bool okPrefix = SpamdResponseReader.TryRead(ref prefix, false, SpamdLimits.Default, out SpamdResponse rPrefix, out SpamdError ePrefix);
                if (okPrefix)
                {
                    return okWhole && rPrefix == rWhole && prefix.Consumed == whole.Consumed;
                }
                return ePrefix == SpamdError.None || (!okWhole && eWhole != SpamdError.None);
            });
}
