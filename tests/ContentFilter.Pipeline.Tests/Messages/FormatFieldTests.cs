using System.Text;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Protocols.Mime;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace ContentFilter.Pipeline.Tests.Messages;

/// <summary>An added or changed value is always exactly one header field: no injected fields, no early body.</summary>
public class FormatFieldTests
{
    [Theory]
    [InlineData("plain", "X-A: plain\r\n")]
    [InlineData("folded\r\n\tvalue", "X-A: folded\r\n\tvalue\r\n")]
    [InlineData("bare\nfold", "X-A: bare\r\n fold\r\n")]
    [InlineData("a\r\nBcc: victim@example.net", "X-A: a\r\n Bcc: victim@example.net\r\n")]
    [InlineData("a\r\n\r\nbody text", "X-A: a\r\n body text\r\n")]
    [InlineData("a\r\r\n \r\nb", "X-A: a\r\n b\r\n")]
    public void FormatField_LineBreaksBecomeFolding(string value, string expected) =>
        Assert.Equal(expected, Encoding.UTF8.GetString(OutgoingMessage.FormatField("X-A", value)));

    [Property(MaxTest = 500)]
    public Property FormatField_AnyValue_ParsesBackAsOneField()
    {
        Gen<string> value = Gen.Elements("a", "b c", "\r", "\n", "\r\n", " ", "\t", "Bcc: x@y", ":", "\u00e9").ListOf().Select(p => string.Concat(p));
        return Prop.ForAll(value.ToArbitrary(), v =>
        {
            byte[] field = OutgoingMessage.FormatField("X-Added", v);
            byte[] message = [.. field, .. "From: a@example.org\r\n\r\nbody\r\n"u8];
            List<HeaderField> fields = HeaderSectionReader.Read(message, 0, out _, out _);
            return fields.Count == 2 && fields[0].Name == "X-Added" && fields[1].Name == "From";
        });
    }
}
