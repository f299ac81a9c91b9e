using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Policy;
using ContentFilter.Protocols.Tests.Smtp;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Protocols.Tests.Policy;

/// <summary>Round trips and piece-size independence of the policy request reader (issue 8, fuzzing).</summary>
public class PolicyPropertyTests
{
    private static readonly Gen<string> Name = Gen.Elements("request", "sender", "recipient", "client_address", "x", "ccert_subject", "\u00e9t\u00e9")
        .Select(n => n);

    private static readonly Gen<string> Value = Gen.Elements("", "a", "b@example.org", "bounce=x=y@example.org", "\t", " sp ", "\u00fc\u00df", "=", "smtpd_access_policy")
        .ListOf().Select(l => string.Concat(l));

    private static readonly Gen<Dictionary<string, string>> Attributes = Gen.Zip(Name, Value).NonEmptyListOf()
        .Select(pairs => pairs.GroupBy(p => p.Item1).ToDictionary(g => g.Key, g => g.Last().Item2));

    private static byte[] Wire(Dictionary<string, string> attributes, bool crlf) =>
        Encoding.UTF8.GetBytes(string.Concat(attributes.Select(a => a.Key + "=" + a.Value + (crlf ? "\r\n" : "\n"))) + (crlf ? "\r\n" : "\n"));

    private static List<Dictionary<string, string>> ReadAll(IEnumerable<byte[]> pieces, out PolicyError error)
    {
        var requests = new List<Dictionary<string, string>>();
        var reader = new PolicyRequestReader(new PolicyLimits());
        byte[] pending = [];
        error = PolicyError.None;
        foreach (byte[] piece in pieces)
        {
            ReadOnlySequence<byte> seq = Sequences.Of(pending, piece);
            var r = new SequenceReader<byte>(seq);
            while (reader.TryRead(ref r, out PolicyRequest? request, out error))
            {
                requests.Add(request.Attributes.ToDictionary());
            }
            if (error != PolicyError.None)
            {
                return requests;
            }
            pending = seq.Slice(r.Position).ToArray();
        }
        return requests;
    }

    private static bool Same(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out string? v) && v == kv.Value);

    /// <summary>Attributes written as Postfix writes them (LF or CRLF lines, two requests back to back) read back exactly, in any pieces.</summary>
    [Property(MaxTest = 300)]
    public Property Reader_WrittenRequests_RoundTripInAnyPieces() =>
        Prop.ForAll(Gen.Zip(Attributes, Attributes).ToArbitrary(), Gen.Zip(Gen.Elements(true, false), Gen.Choose(1, 25)).ToArbitrary(), (requests, how) =>
        {
            (Dictionary<string, string> first, Dictionary<string, string> second) = requests;
            (bool crlf, int cut) = how;
            byte[] wire = [.. Wire(first, crlf), .. Wire(second, !crlf)];
            List<Dictionary<string, string>> read = ReadAll(Sequences.Cut(wire, cut, cut * 4, cut * 9), out PolicyError error);
            return error == PolicyError.None && read.Count == 2 && Same(read[0], first) && Same(read[1], second);
        });

    /// <summary>Any bytes in any pieces: the same requests, and refused or not, as when they come at once.</summary>
    [Property(MaxTest = 300)]
    public Property Reader_AnyBytes_PieceSizesChangeNothing() =>
        Prop.ForAll(ArbMap.Default.ArbFor<byte[]>(), Gen.Choose(1, 25).ToArbitrary(), (input, cut) =>
        {
            byte[] wire = [.. Encoding.ASCII.GetBytes("a=b\n"), .. input, .. Encoding.ASCII.GetBytes("\n\nc=d\n\n")];
            var whole = ReadAll([wire], out PolicyError e1);
            var split = ReadAll(Sequences.Cut(wire, cut, cut * 3), out PolicyError e2);
            return whole.Count == split.Count && whole.Zip(split).All(p => Same(p.First, p.Second)) && (e1 == PolicyError.None) == (e2 == PolicyError.None);
        });
}
