using ContentFilter.Checks.Greylisting;

namespace ContentFilter.Checks.Tests.Greylisting;

public class SenderNormalizerTests
{
    [Theory]
    [InlineData("", "")]
    [InlineData("alice@example.com", "alice@example.com")]
    [InlineData("alice+tag@example.com", "alice@example.com")]
    [InlineData("alice+a+b@example.com", "alice@example.com")]
    [InlineData("prvs=0123456789=alice@example.com", "alice@example.com")]
    [InlineData("prvs=alice=0123456789@example.com", "alice@example.com")]
    [InlineData("PRVS=0123456789=alice@example.com", "alice@example.com")]
    [InlineData("prvs=a=b=c@example.com", "prvs=a=b=c@example.com")]
    [InlineData("prvs=short=alice@example.com", "alice@example.com")]
    [InlineData("bounce-123@example.com", "bounce-#@example.com")]
    [InlineData("bounce-123-456.789@example.com", "bounce-#-#.#@example.com")]
    [InlineData("user123@example.com", "user123@example.com")]
    [InlineData("123_abc@example.com", "123_abc@example.com")]
    [InlineData("1234@example.com", "#@example.com")]
    [InlineData("list-bounces+12=x@example.org", "list-bounces@example.org")]
    [InlineData("no-at-sign", "no-at-sign")]
    [InlineData("a@b@c", "a@b@c")]
    public void Normalize_Sender_AsPostgrey(string sender, string expected)
    {
        Assert.Equal(expected, SenderNormalizer.Normalize(sender));
    }
}
