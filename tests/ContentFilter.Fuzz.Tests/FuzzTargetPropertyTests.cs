using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Fuzz.Tests;

/// <summary>The fuzz targets' invariants as FsCheck properties, on inputs built from each protocol's own tokens.</summary>
/// <remarks>
/// afl-fuzz finds its way into a grammar by coverage over minutes; a property has a few hundred tries, so it is
/// fed the tokens that matter (line ends, dots, length prefixes, keywords) in random order. Each target checks the
/// same invariants as under scripts/fuzz: no exception but the documented ones, the same result whatever the piece
/// sizes, round trips, DATA ending only at CRLF.CRLF, header edits leaving every other byte alone.
/// </remarks>
public class FuzzTargetPropertyTests
{
    private static Arbitrary<byte[]> Tokens(params string[] tokens) =>
        Gen.Elements(tokens).ListOf().Select(parts => Encoding.Latin1.GetBytes(string.Concat(parts))).ToArbitrary();

    private static Arbitrary<byte[]> Bytes(params byte[][] tokens) =>
        Gen.Elements(tokens).ListOf().Select(parts => parts.SelectMany(p => p).ToArray()).ToArbitrary();

    private static void Run(string target, byte[] input) => FuzzTargets.Find(target)!.Run(input);

    [Property(MaxTest = 300)]
    public Property SmtpCommand_TokenSoup_KeepsInvariants() =>
        Prop.ForAll(
            Tokens("MAIL FROM:", "RCPT TO:", "EHLO ", "XFORWARD ", "ADDR=", "NAME=", "PORT=25", "<", ">", "<>", "a", "@", "b.example", "[192.0.2.1]",
                "\"q r\"", "\\", " ", " SIZE=10", " BODY=8BITMIME", " SMTPUTF8", " ENVID=x+2B", " NOTIFY=NEVER", " ORCPT=rfc822;a", "@r:", "\r\n", "\n",
                "\r", "\0", "\u00e9", "\u00ff", "+ZZ", "=", "DATA", "QUIT"),
            input => Run("smtp-command", input));

    [Property(MaxTest = 300)]
    public Property SmtpData_TokenSoup_EndsOnlyAtCrlfDotCrlf() =>
        Prop.ForAll(Tokens("\r", "\n", ".", "..", "a", "\r\n", "\r\n.", ".\r\n", "\r\n.\r\n", "\0"), input => Run("smtp-data", input));

    [Property(MaxTest = 300)]
    public Property Milter_PacketSoup_KeepsInvariants() =>
        Prop.ForAll(
            Bytes([0, 0, 0], [1], [2], [5], [13], [255], "O"u8.ToArray(), "C"u8.ToArray(), "D"u8.ToArray(), "L"u8.ToArray(), "M"u8.ToArray(),
                "R"u8.ToArray(), "B"u8.ToArray(), "U"u8.ToArray(), "h"u8.ToArray(), "i"u8.ToArray(), "4"u8.ToArray(), "a"u8.ToArray(), [0],
                [0, 0, 0, 0], [0x80, 0, 0, 0], [0xC3], [0xA9]),
            input => Run("milter", input));

    [Property(MaxTest = 300)]
    public Property Policy_LineSoup_KeepsInvariants() =>
        Prop.ForAll(
            Tokens("request=smtpd_access_policy", "sender=", "a", "=", "==", "\t", "\n", "\r\n", "\r", "\0", "\u00e9", "\u00ff", "x=y\n", "\n\n"),
            input => Run("policy", input));

    [Property(MaxTest = 300)]
    public Property Clamd_ReplySoup_KeepsInvariants() =>
        Prop.ForAll(
            Tokens("stream: ", "OK", " FOUND", " ERROR", "INSTREAM size limit exceeded.", "PONG", "ClamAV ", "Eicar", " ", "\0", "\n", "\r", "\u00e9"),
            input => Run("clamd", input));

    [Property(MaxTest = 300)]
    public Property Spamd_ResponseSoup_KeepsInvariants() =>
        Prop.ForAll(
            Tokens("SPAMD/1.5 ", "SPAMD/", "0 ", "76 ", "EX_OK", "\r\n", "\n", "Content-length: ", "3", "12", "Spam: ", "True", "No", " ; ", "-1.5",
                "1000", " / ", "5.0", ":", "abc", ",", "\u00e9"),
            input => Run("spamd", input));

    [Property(MaxTest = 300)]
    public Property HeaderEdit_MessageSoup_LeavesOtherBytesAlone() =>
        Prop.ForAll(
            Tokens("From: a@example.org", "Subject: x", "Received: y", "X-A:", "subject: z", " folded", "\tfolded", "no colon", ":", "\r\n", "\n", "\r",
                "\r\n\r\n", "body", "\u00e9", "\u00ff"),
            input => Run("header-edit", input));

    [Property(MaxTest = 300)]
    public Property MimeHeader_SectionSoup_FieldsTileAndAgreeOnTheBody() =>
        Prop.ForAll(
            Tokens("A: 1", "b:2", " c", "\td", ":", "x y", "\r\n", "\n", "\r", "\r\n\r\n", "\n\n", "\u00e9", "\u00ff", "\0"),
            input => Run("mime-header", input));
}
