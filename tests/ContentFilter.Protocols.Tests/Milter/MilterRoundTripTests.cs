using System.Buffers;
using ContentFilter.Protocols.Milter;
using FsCheck;
using FsCheck.Xunit;
using static ContentFilter.Protocols.Tests.Milter.MilterTestBytes;

namespace ContentFilter.Protocols.Tests.Milter;

public sealed class MilterRoundTripTests
{
    private static readonly MilterPacketReader Commands = new();
    private static readonly MilterReplyReader Replies = new();

    private static string Clean(string? s) => (s ?? string.Empty).Replace("\0", string.Empty, StringComparison.Ordinal);

    private static byte[] CleanBytes(byte[]? b) => (b ?? []).Where(x => x != 0).ToArray();

    private static bool RoundTrips(MilterCommand command, int cut)
    {
        byte[] bytes = Encode(command);
        var reader = new SequenceReader<byte>(Split(bytes, Math.Abs(cut % (bytes.Length + 1))));
        return Commands.TryRead(ref reader, out MilterCommand read, out MilterError error) && error == MilterError.None && read.Equals(command) && reader.End;
    }

    private static bool RoundTrips(MilterReply reply, int cut)
    {
        byte[] bytes = Encode(reply);
        var reader = new SequenceReader<byte>(Split(bytes, Math.Abs(cut % (bytes.Length + 1))));
        return Replies.TryRead(ref reader, out MilterReply read, out MilterError error) && error == MilterError.None && read.Equals(reply) && reader.End;
    }

    [Property]
    public bool Header_RoundTrips(string name, byte[] value, int cut) =>
        RoundTrips(new MilterCommand.Header(Clean(name), CleanBytes(value)), cut);

    [Property]
    public bool Mail_RoundTrips(string address, string[] parameters, int cut) =>
        RoundTrips(new MilterCommand.Mail(Clean(address), (parameters ?? []).Select(Clean).ToList()), cut);

    [Property]
    public bool Rcpt_RoundTrips(string address, string[] parameters, int cut) =>
        RoundTrips(new MilterCommand.Rcpt(Clean(address), (parameters ?? []).Select(Clean).ToList()), cut);

    [Property]
    public bool Macro_RoundTrips(byte stage, (string, string)[] pairs, int cut) =>
        RoundTrips(new MilterCommand.Macro((MilterCommandCode)stage, (pairs ?? []).Select(p => new KeyValuePair<string, string>(Clean(p.Item1), Clean(p.Item2))).ToList()), cut);

    [Property]
    public bool Connect_RoundTrips(string host, bool v6, ushort port, string address, int cut) =>
        RoundTrips(new MilterCommand.Connect(Clean(host), v6 ? '6' : '4', port, Clean(address)), cut);

    [Property]
    public bool Body_RoundTrips(byte[] chunk, int cut) =>
        RoundTrips(new MilterCommand.Body(chunk ?? []), cut);

    [Property]
    public bool OptNeg_RoundTrips(uint version, uint actions, uint protocol, int cut) =>
        RoundTrips(new MilterCommand.OptNeg(version, (MilterActions)actions, (MilterProtocol)protocol), cut);

    [Property]
    public bool InsertHeaderReply_RoundTrips(uint index, string name, string value, int cut) =>
        RoundTrips(new MilterReply.InsertHeader(index, Clean(name), Clean(value)), cut);

    [Property]
    public bool ChangeHeaderReply_RoundTrips(uint index, string name, string value, int cut) =>
        RoundTrips(new MilterReply.ChangeHeader(index, Clean(name), Clean(value)), cut);

    [Property]
    public bool ReplyCodeReply_RoundTrips(string text, int cut) =>
        RoundTrips(new MilterReply.ReplyCode(Clean(text)), cut);

    [Property]
    public bool OptNegReply_RoundTrips(uint version, uint actions, uint protocol, (byte, string)[] lists, int cut) =>
        RoundTrips(new MilterReply.OptNeg(version, (MilterActions)actions, (MilterProtocol)protocol, (lists ?? []).Select(l => new KeyValuePair<MilterMacroStage, string>((MilterMacroStage)(l.Item1 % 7), Clean(l.Item2))).ToList()), cut);

    public static TheoryData<MilterReply> AllReplies() => new()
    {
        MilterReply.Accept, MilterReply.Continue, MilterReply.Reject, MilterReply.TempFail, MilterReply.Discard,
        MilterReply.Skip, MilterReply.Progress, MilterReply.Shutdown,
        new MilterReply.ReplyCode("554 5.7.1 Virus found"),
        new MilterReply.Quarantine("virus"),
        new MilterReply.AddHeader("X-A", "b"),
        new MilterReply.InsertHeader(0, "Authentication-Results", "mx; spf=pass"),
        new MilterReply.ChangeHeader(2, "Subject", ""),
        new MilterReply.ChangeFrom("<a@b>", "SIZE=1"),
        new MilterReply.ChangeFrom("<a@b>", null),
        new MilterReply.AddRecipient("<c@d>"),
        new MilterReply.AddRecipientWithParameters("<c@d>", "NOTIFY=NEVER"),
        new MilterReply.DeleteRecipient("<c@d>"),
        new MilterReply.ReplaceBody([1, 2, 0, 3]),
        new MilterReply.OptNeg(6, MilterActions.AddHeaders, MilterProtocol.NoUnknown, [new(MilterMacroStage.Connect, "j {daemon_name}")]),
    };

    [Theory]
    [MemberData(nameof(AllReplies))]
    public void Reply_EveryCode_RoundTripsAtEverySplit(MilterReply reply)
    {
        byte[] bytes = Encode(reply);
        for (int cut = 0; cut <= bytes.Length; cut++)
        {
            Assert.True(RoundTrips(reply, cut), $"{reply.Code} split at {cut}");
        }
    }

    [Fact]
    public void ReplyWriter_InsertHeader_WritesLibmilterLayout()
    {
        byte[] bytes = Encode(new MilterReply.InsertHeader(1, "X-A", "v"));
        Assert.Equal(Cat([0, 0, 0, 11, (byte)'i', 0, 0, 0, 1], Z("X-A"), Z("v")), bytes);
    }

    [Fact]
    public void ReplyWriter_Progress_IsFiveBytes()
    {
        Assert.Equal(new byte[] { 0, 0, 0, 1, (byte)'p' }, Encode(MilterReply.Progress));
    }

    [Fact]
    public void ReplyWriter_OptNegWithMacroLists_AppendsStageAndNames()
    {
        byte[] bytes = Encode(new MilterReply.OptNeg(6, MilterActions.AddHeaders | MilterActions.ChangeHeaders, MilterProtocol.HeaderLeadingSpace, [new(MilterMacroStage.EnvFrom, "i")]));
        Assert.Equal(Cat([0, 0, 0, 19, (byte)'O', 0, 0, 0, 6, 0, 0, 0, 0x11, 0, 0x10, 0, 0, 0, 0, 0, 2], Z("i")), bytes);
    }

    [Fact]
    public void ReplyWriter_StringWithNul_Throws()
    {
        Assert.Throws<ArgumentException>(() => Encode(new MilterReply.ReplyCode("554 a\0b")));
    }
}
