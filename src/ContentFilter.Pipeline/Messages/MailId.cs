using System.Security.Cryptography;

namespace ContentFilter.Pipeline.Messages;

/// <summary>Message ids as amavis makes them: 12 random URL-safe base64 characters (72 bits).</summary>
public static class MailId
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// <summary>Random bytes for 32 ids, drawn from the system's generator at once.</summary>
    private const int BatchBytes = 12 * 32;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_next;

    /// <summary>A new id.</summary>
    /// <remarks>
    /// The bytes still come from <see cref="RandomNumberGenerator"/> (quarantine ids must not be guessable), but
    /// 32 ids' worth per call and per thread: one call per message was about 4 % of the milter's CPU (OpenSSL's
    /// generator takes locks and checks its process id on every call; docs/benchmarks.md). Used bytes are zeroed.
    /// </remarks>
    public static string New()
    {
        byte[] random = t_random ??= new byte[BatchBytes];
        if (t_next == 0 || t_next >= BatchBytes)
        {
            RandomNumberGenerator.Fill(random);
            t_next = 0;
        }
        Span<byte> bytes = random.AsSpan(t_next, 12);
        t_next += 12;
        Span<char> chars = stackalloc char[12];
        for (int i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphabet[bytes[i] & 63];
        }
        bytes.Clear();
        return new string(chars);
    }

    /// <summary>True when <paramref name="id"/> has the shape of a mail id (safe as a file name).</summary>
    public static bool IsValid(string? id) => id is { Length: 12 } && id.All(c => Alphabet.Contains(c));
}
