using ContentFilter.Testing;

namespace ContentFilter.IntegrationTests.Fixtures;

/// <summary>A testdata message with the envelope to send it with.</summary>
public sealed record SampleMessage(string File, string Sender, string Recipient, string? MailParameters)
{
    /// <summary>Every file in testdata/messages, with its envelope.</summary>
    public static IReadOnlyList<SampleMessage> All { get; } =
    [
        new("7bit.eml", "alice@example.org", "user@dest.test", null),
        new("8bit-utf8.eml", "zoe@example.org", "user@dest.test", "BODY=8BITMIME"),
        new("smtputf8.eml", "josé@exämple.org", "üser@dest.test", "BODY=8BITMIME SMTPUTF8"),
        new("long-lines.eml", "alice@example.org", "user@dest.test", null),
        new("dot-lines.eml", "alice@example.org", "user@dest.test", null),
        new("dkim-signed.eml", "signer@example.org", "user@dest.test", null),
    ];

    /// <summary>xUnit member data: the file names.</summary>
    public static TheoryData<string> Files
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (SampleMessage m in All)
            {
                data.Add(m.File);
            }
            return data;
        }
    }

    /// <summary>The entry for a file name.</summary>
    public static SampleMessage Get(string file) => All.Single(m => m.File == file);

    /// <summary>The message bytes exactly as stored.</summary>
    public byte[] Bytes() => TestPaths.ReadMessage(File);

    /// <inheritdoc />
    public override string ToString() => File;
}
