using System.Text;
using ContentFilter.Testing.Messages;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.IntegrationTests.TestKit;

/// <summary>The test kit's own pure parts: a comparison that cannot fail would make every end-to-end test hollow.</summary>
public sealed class TestKitTests
{
    [Theory]
    [InlineData("a\r\n", "a\r\n.\r\n")]
    [InlineData(".a\r\n", "..a\r\n.\r\n")]
    [InlineData("x\r\n.\r\ny\r\n", "x\r\n..\r\ny\r\n.\r\n")]
    [InlineData("no ending", "no ending\r\n.\r\n")]
    [InlineData("bare\n.lf\r\n", "bare\n.lf\r\n.\r\n")]
    [InlineData("", ".\r\n")]
    public void DotStuff_Lines_StuffsOnlyAfterCrlfAndTerminates(string message, string wire)
    {
        Assert.Equal(wire, Encoding.ASCII.GetString(RawSmtpClient.DotStuff(Encoding.ASCII.GetBytes(message))));
    }

    [Fact]
    public void Compare_TraceHeadersOnTop_IsIntactAndListsThem()
    {
        byte[] sent = "Subject: x\r\n\r\nbody\r\n"u8.ToArray();
        byte[] delivered = "Return-Path: <a@b>\nReceived: from x\n\tby y\nSubject: x\n\nbody\n"u8.ToArray();
        DeliveryComparison c = DeliveredMessage.Compare(sent, delivered, DeliveredMessage.PostfixTraceFields);
        Assert.True(c.Intact, c.Problem);
        Assert.Equal(["Return-Path: <a@b>", "Received: from x\n\tby y"], c.AddedFields);
    }

    [Theory]
    [InlineData("X-Other: 1\nSubject: x\n\nbody\n", "unexpected field")]
    [InlineData("Subject: x\n\nbody!\n", "does not end with")]
    [InlineData("Subject: x\n\nbody\n\n", "does not end with")]
    [InlineData("Received: a\nXSubject: x\n\nbody\n", "line ending")]
    public void Compare_ChangedOrUnexpectedHeader_IsNotIntact(string delivered, string problem)
    {
        DeliveryComparison c = DeliveredMessage.Compare("Subject: x\r\n\r\nbody\r\n"u8, Encoding.ASCII.GetBytes(delivered), DeliveredMessage.PostfixTraceFields);
        Assert.False(c.Intact);
        Assert.Contains(problem, c.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void LargeMessage_Write_HasRequestedSizeCrlfLinesAndDotLines()
    {
        string path = Path.GetTempFileName();
        try
        {
            var (_, length) = LargeMessage.Write(path, 1_000_000);
            Assert.InRange(length, 1_000_000, 1_001_000);
            string text = File.ReadAllText(path);
            Assert.DoesNotContain("\n", text.Replace("\r\n", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Contains("\r\n.", text, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
