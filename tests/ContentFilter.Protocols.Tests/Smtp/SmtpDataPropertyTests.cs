using System.Buffers;
using ContentFilter.Protocols.Smtp;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Protocols.Tests.Smtp;

/// <summary>The DATA decoder and the dot-stuffer against each other, on any bytes (issue 8, fuzzing).</summary>
public class SmtpDataPropertyTests
{
    private static readonly Gen<byte[]> Hostile = Gen.OneOf(
        Gen.Elements((byte)'.', (byte)'\r', (byte)'\n', (byte)'a', (byte)0, (byte)0xFF).ArrayOf(),
        ArbMap.Default.GeneratorFor<byte[]>());

    /// <summary>
    /// Any stored message (bare CR and LF included), stuffed and decoded again, ends exactly at the stuffer's
    /// terminator and comes back with only the documented changes: bare LF stored as CRLF, a dot after a bare CR kept
    /// doubled, CRLF added when the message did not end in one.
    /// </summary>
    [Property(MaxTest = 500)]
    public Property Decoder_AnyStuffedMessage_EndsAtTheTerminatorAndComesBack() =>
        Prop.ForAll(Hostile.ToArbitrary(), Gen.Choose(1, 30).ToArbitrary(), (message, cut) =>
        {
            byte[] wire = SmtpDotStuffer.StuffAll(message);
            (byte[] output, bool ended, byte[] rest) = SmtpDataDecoderTests.Decode(Sequences.Cut(wire, cut, cut * 3));
            return ended && rest.Length == 0 && output.AsSpan().SequenceEqual(Expected(message));
        });

    /// <summary>Any bytes: DATA ends right after the first CRLF.CRLF (the DATA command's CRLF counts) or not at all.</summary>
    [Property(MaxTest = 500)]
    public Property Decoder_AnyBytes_EndsOnlyAfterTheFirstCrlfDotCrlf() =>
        Prop.ForAll(Hostile.ToArbitrary(), Gen.Choose(1, 30).ToArbitrary(), (input, cut) =>
        {
            (byte[] output, bool ended, byte[] rest) = SmtpDataDecoderTests.Decode(Sequences.Cut(input, cut, cut * 2));
            byte[] withCommandCrLf = [(byte)'\r', (byte)'\n', .. input];
            int end = withCommandCrLf.AsSpan().IndexOf("\r\n.\r\n"u8);
            bool noBareLf = !output.Where((b, i) => b == (byte)'\n' && (i == 0 || output[i - 1] != (byte)'\r')).Any();
            return noBareLf && (end < 0 ? !ended : ended && rest.Length == withCommandCrLf.Length - (end + 5));
        });

    private static byte[] Expected(byte[] message)
    {
        var result = new List<byte>();
        for (int i = 0; i < message.Length; i++)
        {
            if (message[i] == (byte)'\n' && (i == 0 || message[i - 1] != (byte)'\r'))
            {
                result.Add((byte)'\r');
            }
            result.Add(message[i]);
            if (message[i] == (byte)'.' && i > 0 && message[i - 1] == (byte)'\r')
            {
                result.Add((byte)'.');
            }
        }
        if (message.Length > 0 && !message.AsSpan().EndsWith("\r\n"u8))
        {
            result.AddRange("\r\n"u8.ToArray());
        }
        return result.ToArray();
    }
}
