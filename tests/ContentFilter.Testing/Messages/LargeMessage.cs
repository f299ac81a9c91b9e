using System.Security.Cryptography;
using System.Text;

namespace ContentFilter.Testing.Messages;

/// <summary>Generates big test messages on disk (never in memory), so size tests measure the filter, not the test.</summary>
public static class LargeMessage
{
    /// <summary>
    /// Writes a message of about <paramref name="bodyBytes"/> body bytes to <paramref name="path"/>: a small header, then
    /// CRLF lines of 76 base64 characters (a typical attachment's shape), with a body line starting with a dot every
    /// 4096 lines so dot-stuffing is exercised at size too. Returns the SHA-256 of the file and its length.
    /// </summary>
    public static (byte[] Sha256, long Length) Write(string path, long bodyBytes, string to = "user@dest.test", string subject = "large message")
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Put(ReadOnlySpan<byte> bytes)
        {
            file.Write(bytes);
            hash.AppendData(bytes);
        }
        Put(Encoding.ASCII.GetBytes(
            "From: big@example.org\r\n" +
            $"To: {to}\r\n" +
            $"Subject: {subject}\r\n" +
            "Date: Tue, 24 Nov 2026 08:00:00 +0000\r\n" +
            $"Message-ID: <large.{Guid.NewGuid():N}@example.org>\r\n" +
            "MIME-Version: 1.0\r\n" +
            "Content-Type: application/octet-stream\r\n" +
            "Content-Transfer-Encoding: base64\r\n" +
            "\r\n"));
        var random = new Random(12345);
        byte[] raw = new byte[57];
        long written = 0;
        long line = 0;
        while (written < bodyBytes)
        {
            random.NextBytes(raw);
            string b64 = Convert.ToBase64String(raw);
            if (++line % 4096 == 0)
            {
                b64 = "." + b64[1..];
            }
            byte[] bytes = Encoding.ASCII.GetBytes(b64 + "\r\n");
            Put(bytes);
            written += bytes.Length;
        }
        file.Flush();
        return (hash.GetHashAndReset(), file.Length);
    }
}
