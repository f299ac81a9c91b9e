using System.Buffers;
using ContentFilter.Protocols.Clamd;

namespace ContentFilter.Protocols.Tests.Clamd;

public class ClamdRequestWriterTests
{
    [Theory]
    [InlineData(ClamdCommand.Ping, "zPING\0")]
    [InlineData(ClamdCommand.Version, "zVERSION\0")]
    [InlineData(ClamdCommand.Instream, "zINSTREAM\0")]
    public void Write_Command_NulTerminatedZForm(ClamdCommand command, string expected)
    {
        var output = new ArrayBufferWriter<byte>();
        ClamdRequestWriter.Write(command, output);
        Assert.Equal(System.Text.Encoding.ASCII.GetBytes(expected), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void WriteChunk_Data_BigEndianLengthThenBytes()
    {
        var output = new ArrayBufferWriter<byte>();
        ClamdRequestWriter.WriteChunk(new byte[] { 1, 2, 3 }, output);
        Assert.Equal(new byte[] { 0, 0, 0, 3, 1, 2, 3 }, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void WriteChunkHeader_64KiB_BigEndian()
    {
        byte[] header = new byte[4];
        ClamdRequestWriter.WriteChunkHeader(65536, header);
        Assert.Equal(new byte[] { 0, 1, 0, 0 }, header);
    }

    [Fact]
    public void WriteChunk_Empty_RefusedBecauseItWouldEndTheStream()
    {
        Assert.Throws<ArgumentException>(() => ClamdRequestWriter.WriteChunk(ReadOnlySpan<byte>.Empty, new ArrayBufferWriter<byte>()));
        Assert.Equal(new byte[4], ClamdRequestWriter.EndOfStream.ToArray());
    }
}
