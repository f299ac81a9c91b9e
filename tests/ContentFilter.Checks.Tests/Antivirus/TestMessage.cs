using System.Text;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Checks.Tests.Antivirus;

/// <summary>Builds spooled messages and contexts for check tests.</summary>
internal static class TestMessage
{
    public const string Eicar = @"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    public const string Gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

    public static string Clean(string body = "Hello,\r\n\r\nthe meeting is at ten.\r\n") =>
        "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: meeting\r\nDate: Tue, 24 Nov 2026 07:00:00 +0000\r\n" +
        "Message-ID: <m1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + body;

    /// <summary>EICAR as a base64 attachment of a multipart message.</summary>
    public static string WithAttachment(string fileName, byte[] content, string contentType = "application/octet-stream")
    {
        string b64 = Convert.ToBase64String(content, Base64FormattingOptions.InsertLineBreaks).Replace("\n", "\r\n").Replace("\r\r\n", "\r\n");
        return "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: attachment\r\nMessage-ID: <a1@example.org>\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\n" +
            $"Content-Type: {contentType}; name=\"{fileName}\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{fileName}\"\r\n\r\n" +
            b64 + "\r\n--b1--\r\n";
    }

    public static string EicarMessage() => WithAttachment("eicar.com.txt", Encoding.ASCII.GetBytes(Eicar), "text/plain");

    public static async Task<MessageSpool> SpoolAsync(byte[] bytes, int inMemoryThreshold = 256 * 1024)
    {
        string dir = Path.Combine(Path.GetTempPath(), "cf-test-spool");
        var spool = new MessageSpool(new SpoolOptions { Directory = dir, InMemoryThreshold = inMemoryThreshold }, MailId.New());
        for (int i = 0; i < bytes.Length; i += 7000)
        {
            await spool.WriteAsync(bytes.AsMemory(i, Math.Min(7000, bytes.Length - i)), CancellationToken.None);
        }
        await spool.CompleteAsync(CancellationToken.None);
        return spool;
    }

    public static async Task<MessageContext> ContextAsync(string message, ListenerPolicy? listener = null, FrontDoor door = FrontDoor.Smtp, int inMemoryThreshold = 256 * 1024, params string[] recipients) =>
        await ContextAsync(Encoding.UTF8.GetBytes(message), listener, door, inMemoryThreshold, recipients);

    public static async Task<MessageContext> ContextAsync(byte[] message, ListenerPolicy? listener = null, FrontDoor door = FrontDoor.Smtp, int inMemoryThreshold = 256 * 1024, params string[] recipients)
    {
        MessageSpool spool = await SpoolAsync(message, inMemoryThreshold);
        var envelope = new Envelope { MailFrom = "alice@example.org" };
        foreach (string r in recipients.Length == 0 ? new[] { "bob@example.net" } : recipients)
        {
            envelope.Recipients.Add(new EnvelopeRecipient(r, Array.Empty<string>()));
        }
        listener ??= ListenerPolicy.DefaultInbound;
        return new MessageContext(MailId.New(), envelope, spool, spool.ReadHeaders(64 * 1024), listener, door, DateTimeOffset.UtcNow)
        {
            Direction = listener.Direction,
        };
    }
}
