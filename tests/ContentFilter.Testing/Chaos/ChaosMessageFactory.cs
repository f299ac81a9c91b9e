using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ContentFilter.Checks.Dkim;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Testing.Chaos;

/// <summary>
/// Generates the chaos run's messages deterministically from (run seed, index), so the run keeps only a hash per
/// message and can rebuild the exact bytes when a delivered copy has to be compared.
/// </summary>
/// <remarks>
/// Sizes are mixed: 80 % small (log-uniform up to 20 KB), 15 % medium (to 500 KB), 5 % large (to
/// <see cref="ChaosOptions.MaxSize"/>), so the spool's file path (over 256 KiB) and the in-memory path both run.
/// Lines stay under Postfix's 998-byte <c>smtp_line_length_limit</c> (longer ones would be folded before the filter
/// sees them), end in CRLF, and include lines starting with a dot (dot-stuffing) and with "From ".
/// </remarks>
public sealed partial class ChaosMessageFactory : IDisposable
{
    /// <summary>The signing domain (d=) and the From domain.</summary>
    public const string SigningDomain = "example.org";

    /// <summary>The selector (s=).</summary>
    public const string Selector = "chaos";

    private const string Eicar = @"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    private static readonly DateTimeOffset s_signedAt = new(2026, 12, 5, 6, 0, 0, TimeSpan.Zero);
    private static readonly string[] s_words =
    [
        "mail", "filter", "queue", "postfix", "spool", "reply", "header", "body", "scanner", "relay", "deferred", "retry",
        "signature", "message", "transport", "delivery", "chaos", "kill", "restart", "bytes", "sacred", "never", "lost",
    ];
    private static readonly string[] s_eightBit = ["Grüße", "aus", "Köln", "déjà", "vu", "naïve", "Ωmega", "Straße", "smørrebrød", "日本語", "✓"];
    private readonly ChaosOptions _options;

    /// <summary>Creates the factory for one run (its Message-IDs carry <paramref name="runId"/>); generates the run's DKIM key.</summary>
    public ChaosMessageFactory(string runId, ChaosOptions options)
    {
        RunId = runId;
        _options = options;
        SigningKey = DkimPrivateKey.Generate(DkimAlgorithm.RsaSha256, 2048);
    }

    /// <summary>The run's id, part of every Message-ID.</summary>
    public string RunId { get; }

    /// <summary>The key the signed messages are signed with (publish <see cref="DkimPrivateKey.DnsRecord"/> to verify).</summary>
    public DkimPrivateKey SigningKey { get; }

    /// <summary>The Message-ID (with angle brackets) of message <paramref name="index"/>.</summary>
    public string MessageId(int index) => $"<chaos.{RunId}.{index.ToString(CultureInfo.InvariantCulture)}@{SigningDomain}>";

    /// <summary>The kind of message <paramref name="index"/>.</summary>
    public ChaosMessageKind KindOf(int index)
    {
        if (_options.VirusEvery > 0 && index % _options.VirusEvery == _options.VirusEvery - 1)
        {
            return ChaosMessageKind.Virus;
        }
        ChaosMessageKind kind = ChaosMessageKind.Plain;
        if (_options.EightBitEvery > 0 && index % _options.EightBitEvery == 1 % _options.EightBitEvery)
        {
            kind |= ChaosMessageKind.EightBit;
        }
        if (_options.SignedEvery > 0 && index % _options.SignedEvery == 2 % _options.SignedEvery)
        {
            kind |= ChaosMessageKind.Signed;
        }
        return kind;
    }

    /// <summary>The message's target size in bytes (the result is within a few hundred bytes of it).</summary>
    public int TargetSize(int index)
    {
        var random = new Random(Seed(index) ^ 0x5eed);
        double tier = random.NextDouble();
        int min = _options.MinSize;
        int max = _options.MaxSize;
        int smallTop = Math.Min(20 * 1024, max);
        int mediumTop = Math.Min(500 * 1024, max);
        (int low, int high) = tier < 0.80 ? (min, smallTop) : tier < 0.95 || mediumTop == max ? (smallTop, mediumTop) : (mediumTop, max);
        low = Math.Min(low, high);
        double value = Math.Exp(Math.Log(low) + random.NextDouble() * (Math.Log(high) - Math.Log(low)));
        return (int)Math.Clamp(value, min, max);
    }

    /// <summary>The bytes of message <paramref name="index"/> as sent (CRLF lines, not dot-stuffed).</summary>
    public byte[] Create(int index)
    {
        ChaosMessageKind kind = KindOf(index);
        var random = new Random(Seed(index));
        var head = new StringBuilder(512);
        head.Append("From: Chaos Sender <sender@").Append(SigningDomain).Append(">\r\n");
        head.Append("To: user@dest.test\r\n");
        head.Append("Subject: chaos message ").Append(index.ToString(CultureInfo.InvariantCulture)).Append(" (").Append(kind.ToString()).Append(")\r\n");
        head.Append("Date: Sat, 05 Dec 2026 06:00:00 +0000\r\n");
        head.Append("Message-ID: ").Append(MessageId(index)).Append("\r\n");
        head.Append("MIME-Version: 1.0\r\n");

        byte[] body;
        if (kind.HasFlag(ChaosMessageKind.Virus))
        {
            head.Append("Content-Type: multipart/mixed; boundary=\"chaos-b1\"\r\n");
            body = Encoding.ASCII.GetBytes(
                "--chaos-b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee attachment\r\n--chaos-b1\r\n" +
                "Content-Type: application/octet-stream; name=\"invoice.txt\"\r\nContent-Disposition: attachment; filename=\"invoice.txt\"\r\n" +
                "Content-Transfer-Encoding: base64\r\n\r\n" + Convert.ToBase64String(Encoding.ASCII.GetBytes(Eicar)) + "\r\n--chaos-b1--\r\n");
        }
        else
        {
            int target = TargetSize(index);
            bool eightBit = kind.HasFlag(ChaosMessageKind.EightBit);
            if (target > 64 * 1024)
            {
                head.Append("Content-Type: multipart/mixed; boundary=\"chaos-b2\"\r\n");
                body = Multipart(random, target - head.Length, eightBit);
            }
            else
            {
                head.Append(eightBit ? "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" : "Content-Type: text/plain; charset=us-ascii\r\n");
                using var text = new MemoryStream(target + 128);
                AppendText(text, random, target - head.Length, eightBit);
                body = text.ToArray();
            }
        }

        byte[] header = Encoding.ASCII.GetBytes(head.ToString());
        var message = new MemoryStream(header.Length + body.Length + 1024);
        if (kind.HasFlag(ChaosMessageKind.Signed))
        {
            message.Write(Encoding.ASCII.GetBytes("DKIM-Signature: " + Sign(header, body) + "\r\n"));
        }
        message.Write(header);
        message.Write("\r\n"u8);
        message.Write(body);
        return message.ToArray();
    }

    /// <summary>The index of a chaos message of this run from its header (LF or CRLF), or null for anything else.</summary>
    public int? IndexOf(ReadOnlySpan<byte> delivered)
    {
        int end = delivered.IndexOf("\n\n"u8);
        int endCrlf = delivered.IndexOf("\r\n\r\n"u8);
        int headerEnd = end < 0 ? endCrlf : endCrlf < 0 ? end : Math.Min(end, endCrlf);
        string head = Encoding.ASCII.GetString(headerEnd < 0 ? delivered : delivered[..headerEnd]);
        Match m = MessageIdField().Match(head);
        if (!m.Success || m.Groups[1].Value != RunId)
        {
            return null;
        }
        return int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public void Dispose() => SigningKey.Dispose();

    private int Seed(int index) => unchecked(_options.Seed * 1_000_003 + index);

    private static byte[] Multipart(Random random, int target, bool eightBit)
    {
        using var body = new MemoryStream(target + 1024);
        void Put(string s) => body.Write(Encoding.ASCII.GetBytes(s));
        Put("--chaos-b2\r\n");
        Put(eightBit ? "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" : "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
        AppendText(body, random, 2048, eightBit);
        Put("--chaos-b2\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
        byte[] raw = new byte[57];
        while (body.Length < target - 20)
        {
            random.NextBytes(raw);
            Put(Convert.ToBase64String(raw));
            Put("\r\n");
        }
        Put("--chaos-b2--\r\n");
        return body.ToArray();
    }

    private static void AppendText(Stream output, Random random, int target, bool eightBit)
    {
        long start = output.Position;
        var line = new StringBuilder(100);
        int n = 0;
        while (output.Position - start < target)
        {
            line.Clear();
            n++;
            if (n % 37 == 0)
            {
                line.Append('.'); // a leading dot: Postfix dot-stuffs it toward the filter, the filter toward the next hop
            }
            else if (n % 53 == 0)
            {
                line.Append("From ");
            }
            while (line.Length < 60 + random.Next(15))
            {
                string[] words = eightBit && random.Next(4) == 0 ? s_eightBit : s_words;
                line.Append(words[random.Next(words.Length)]).Append(' ');
            }
            output.Write(Encoding.UTF8.GetBytes(line.ToString().TrimEnd()));
            if (eightBit && n % 29 == 0)
            {
                output.Write([0xE9, 0x20, 0xFF, 0x80]); // raw 8-bit bytes that are not UTF-8: still sacred
            }
            output.Write("\r\n"u8);
        }
    }

    private string Sign(byte[] header, byte[] body)
    {
        List<HeaderField> fields = HeaderSectionReader.Read(header, 0, out _, out _);
        using var stream = new MemoryStream(body, writable: false);
        byte[] bodyHash = DkimSignatureBuilder.HashBodyAsync(stream, DkimCanonicalization.Relaxed, CancellationToken.None).GetAwaiter().GetResult();
        List<string> signed = DkimSignatureBuilder.SelectHeaders(fields, ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"], ["From"]);
        return DkimSignatureBuilder.Sign(fields, bodyHash, SigningKey, SigningDomain, Selector, null, "relaxed/relaxed", signed, s_signedAt, null);
    }

    [GeneratedRegex(@"(?im)^Message-ID:\s*<chaos\.([0-9a-f]+)\.([0-9]+)@")]
    private static partial Regex MessageIdField();
}
