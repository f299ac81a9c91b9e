using ContentFilter.Frontends.Milter;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Milter;

namespace ContentFilter.Frontends.Tests.Milter;

public sealed class MilterReplyMapperTests
{
    private const MilterActions All = MilterActions.AddHeaders | MilterActions.ChangeHeaders | MilterActions.Quarantine;

    [Fact]
    public void FormatReply_PercentAndLineBreaks_EscapedForPostfix()
    {
        Assert.Equal("554 5.7.1 100%% bad  news", MilterReplyMapper.FormatReply(new Reply(554, "5.7.1", "100% bad\r\nnews")));
    }

    [Fact]
    public void FormatReply_EnhancedClassMismatch_FollowsBasicCode()
    {
        Assert.Equal("451 4.3.0 later", MilterReplyMapper.FormatReply(new Reply(451, "5.3.0", "later")));
    }

    [Fact]
    public void Map_RejectWithNonPermanentReply_UsesDefault554()
    {
        var verdict = new Verdict { Action = VerdictAction.Reject, Reply = new Reply(250, "2.0.0", "odd") };
        MilterReply.ReplyCode r = Assert.IsType<MilterReply.ReplyCode>(Assert.Single(MilterReplyMapper.Map(verdict, All, true, false)));
        Assert.Equal("554 5.7.1 Message content rejected", r.Text);
    }

    [Fact]
    public void Map_TempFailWithoutReply_Default451()
    {
        MilterReply.ReplyCode r = Assert.IsType<MilterReply.ReplyCode>(Assert.Single(MilterReplyMapper.Map(new Verdict { Action = VerdictAction.TempFail }, All, true, false)));
        Assert.StartsWith("451 4.3.0", r.Text);
    }

    [Fact]
    public void Map_EditsNotGranted_LeftOutButMessageStillContinues()
    {
        var verdict = new Verdict { Action = VerdictAction.Deliver };
        verdict.Edits.Add("X-A", "1");
        verdict.Edits.Remove("X-B", 1);
        Assert.Equal([MilterReply.Continue], MilterReplyMapper.Map(verdict, MilterActions.None, true, false));
    }

    [Fact]
    public void Map_WithoutLeadingSpace_ValueSentBare()
    {
        var verdict = new Verdict { Action = VerdictAction.Deliver };
        verdict.Edits.Add("X-A", "v");
        Assert.Equal(new MilterReply.InsertHeader(0, "X-A", "v"), MilterReplyMapper.Map(verdict, All, false, false)[0]);
    }

    [Fact]
    public void Map_DeliverWithHold_QuarantineBeforeContinue()
    {
        var verdict = new Verdict { Action = VerdictAction.Deliver, Category = "SPAMMY" };
        List<MilterReply> replies = MilterReplyMapper.Map(verdict, All, true, true);
        Assert.Equal([new MilterReply.Quarantine("SPAMMY"), MilterReply.Continue], replies);
    }
}
