using System.Security.Cryptography;

namespace ContentFilter.Pipeline.Messages;

/// <summary>Message ids as amavis makes them: 12 random URL-safe base64 characters (72 bits).</summary>
public static class MailId
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    /// <summary>A new id.</summary>
    public static string New()
    {
        Span<byte> bytes = stackalloc byte[12];
        RandomNumberGenerator.Fill(bytes);
        Span<char> chars = stackalloc char[12];
        for (int i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphabet[bytes[i] & 63];
        }
        return new string(chars);
    }

    /// <summary>True when <paramref name="id"/> has the shape of a mail id (safe as a file name).</summary>
    public static bool IsValid(string? id) => id is { Length: 12 } && id.All(c => Alphabet.Contains(c));
}
