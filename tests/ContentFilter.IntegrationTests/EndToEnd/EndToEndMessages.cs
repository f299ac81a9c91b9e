using System.Text;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.EndToEnd;

/// <summary>Messages and small helpers shared by the end-to-end tests (real Postfix, real filter, real scanners).</summary>
internal static class EndToEndMessages
{
    /// <summary>The EICAR test string (the repository's test signatures match it as ContentFilter-Test-EICAR).</summary>
    public const string Eicar = @"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    /// <summary>SpamAssassin's GTUBE string: scores 1000.</summary>
    public const string Gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

    /// <summary>A multipart message with one base64 attachment carrying <paramref name="content"/>.</summary>
    public static byte[] WithAttachment(string subject, string messageId, string fileName, string content) => Encoding.ASCII.GetBytes(
        $"From: Alice <alice@example.org>\r\nTo: user@dest.test\r\nSubject: {subject}\r\nMessage-ID: {messageId}\r\n" +
        "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
        "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee attachment\r\n--b1\r\n" +
        $"Content-Type: application/octet-stream; name=\"{fileName}\"\r\nContent-Disposition: attachment; filename=\"{fileName}\"\r\n" +
        "Content-Transfer-Encoding: base64\r\n\r\n" + Convert.ToBase64String(Encoding.ASCII.GetBytes(content)) + "\r\n--b1--\r\n");

    /// <summary>A plain text message.</summary>
    public static byte[] Plain(string from, string subject, string messageId, string body) => Encoding.ASCII.GetBytes(
        $"From: {from}\r\nTo: user@dest.test\r\nSubject: {subject}\r\nMessage-ID: {messageId}\r\n" +
        "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + body);

    /// <summary>The header section (unfolded field name: value lines) of a delivered message, LF or CRLF.</summary>
    public static IReadOnlyList<string> HeaderFields(byte[] message)
    {
        string text = Encoding.UTF8.GetString(message).Replace("\r\n", "\n", StringComparison.Ordinal);
        int end = text.IndexOf("\n\n", StringComparison.Ordinal);
        string head = end < 0 ? text : text[..end];
        var fields = new List<string>();
        foreach (string line in head.Split('\n'))
        {
            if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t') && fields.Count > 0)
            {
                fields[^1] += " " + line.Trim();
            }
            else
            {
                fields.Add(line);
            }
        }
        return fields;
    }

    /// <summary>The value of the first field called <paramref name="name"/>, or null.</summary>
    public static string? Header(byte[] message, string name) =>
        HeaderFields(message).Where(f => f.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase)).Select(f => f[(name.Length + 1)..].Trim()).FirstOrDefault();

    /// <summary>The delivered message whose Message-ID is <paramref name="messageId"/> (exactly one must exist).</summary>
    public static byte[] ByMessageId(PostfixInstance postfix, string messageId)
    {
        byte[][] matches = postfix.DeliveredFiles().Select(File.ReadAllBytes).Where(m => Header(m, "Message-ID") == messageId).ToArray();
        Assert.True(matches.Length == 1, $"{matches.Length} delivered messages with Message-ID {messageId}");
        return matches[0];
    }

    /// <summary>LF line ends (how Postfix stores a maildir file) back to CRLF, as the message was on the wire.</summary>
    public static byte[] Crlf(byte[] lf) => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(lf).Replace("\r\n", "\n", StringComparison.Ordinal).Replace("\n", "\r\n", StringComparison.Ordinal));

    /// <summary>Runs <c>dotnet contentfilter.dll ARGS</c> (the admin CLI of the build under test).</summary>
    public static Task<CommandResult> CliAsync(ContentFilterProcess filter, params string[] args) =>
        ExternalCommand.RunAsync("dotnet", new[] { filter.Binary }.Concat(args), TimeSpan.FromSeconds(60));
}
