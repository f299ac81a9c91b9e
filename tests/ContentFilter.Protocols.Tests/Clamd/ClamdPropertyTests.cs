using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Clamd;
using ContentFilter.Protocols.Tests.Smtp;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Protocols.Tests.Clamd;

/// <summary>Round trips of clamd replies (issue 8, fuzzing).</summary>
public class ClamdPropertyTests
{
    private static readonly Gen<string> VirusName = Gen.Elements("Eicar", "-", "Test", ".", "Signature", "UNOFFICIAL", "Win", "\u00e9", "FOUND", "OK", " ", ":")
        .NonEmptyListOf().Select(l => string.Concat(l)).Where(n => n.Trim().Length > 0);

    /// <summary>Every signature name clamd can send comes back as a FOUND with that name, never as clean, in any pieces.</summary>
    [Property(MaxTest = 300)]
    public Property Reader_FoundReplies_RoundTripInAnyPieces() =>
        Prop.ForAll(VirusName.NonEmptyListOf().ToArbitrary(), Gen.Choose(1, 15).ToArbitrary(), (names, cut) =>
        {
            byte[] wire = Encoding.UTF8.GetBytes(string.Concat(names.Select(n => "stream: " + n + " FOUND\0")));
            var read = new List<ClamdReply>();
            byte[] pending = [];
            foreach (byte[] piece in Sequences.Cut(wire, cut, cut * 2, cut * 7))
            {
                ReadOnlySequence<byte> seq = Sequences.Of(pending, piece);
                var reader = new SequenceReader<byte>(seq);
                while (ClamdReplyReader.TryRead(ref reader, ClamdLimits.Default, out ClamdReply reply, out ClamdError error))
                {
                    read.Add(reply);
                }
                pending = seq.Slice(reader.Position).ToArray();
            }
            return pending.Length == 0 && read.Select(r => (r.Kind, r.Text)).SequenceEqual(names.Select(n => (ClamdReplyKind.Found, n)));
        });
}
