using System.Buffers;
using System.Text;
using ContentFilter.Protocols.Policy;

namespace ContentFilter.Protocols.Tests.Policy;

public class PolicyReplyWriterTests
{
    private static string Write(PolicyReply reply)
    {
        var buffer = new ArrayBufferWriter<byte>();
        PolicyReplyWriter.Write(reply, buffer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void Write_Dunno_ActionAndEmptyLine()
    {
        Assert.Equal("action=DUNNO\n\n", Write(PolicyReply.Dunno));
    }

    [Fact]
    public void Write_DeferIfPermit_TextAfterAction()
    {
        Assert.Equal(
            "action=DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.net.html\n\n",
            Write(PolicyReply.DeferIfPermit("4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/example.net.html")));
    }

    [Fact]
    public void Write_Prepend_Header()
    {
        Assert.Equal("action=PREPEND X-Greylist: delayed 301 seconds\n\n", Write(PolicyReply.Prepend("X-Greylist: delayed 301 seconds")));
    }

    [Fact]
    public void Write_LineBreakInText_CannotSplitReply()
    {
        string written = Write(PolicyReply.DeferIfPermit("a\n\naction=OK\r\n"));

        Assert.Equal("action=DEFER_IF_PERMIT a  action=OK  \n\n", written);
    }

    [Fact]
    public void Write_Utf8Text_EncodedAsUtf8()
    {
        Assert.Equal("action=DEFER_IF_PERMIT bücher\n\n", Write(PolicyReply.DeferIfPermit("bücher")));
    }
}
