using System.Text.RegularExpressions;

namespace ContentFilter.Checks.Greylisting;

/// <summary>postgrey's sender substitutions, so one sender's retries keep one key (PROTOCOLS.md §6).</summary>
/// <remarks>
/// Mailing lists and bounce-address tagging put a fresh token into every envelope sender (VERP, BATV
/// <c>prvs=</c>, <c>+extension</c>); without this each message would start a new greylisting wait.
/// </remarks>
public static partial class SenderNormalizer
{
    /// <summary>Returns the sender as it goes into a triplet key (not yet lower-cased). The null sender stays empty.</summary>
    public static string Normalize(string sender)
    {
        int at = sender.IndexOf('@');
        if (at < 0)
        {
            return sender;
        }
        string user = sender[..at];
        string domain = sender[(at + 1)..];

        // BATV (draft-levine-smtp-batv): prvs=TAG=user or the older prvs=user=TAG; keep the part that is not the
        // 10-character tag, the third by default.
        if (user.StartsWith("prvs=", StringComparison.OrdinalIgnoreCase))
        {
            string[] parts = user.Split('=');
            if (parts.Length == 3)
            {
                user = !BatvTag().IsMatch(parts[1]) && BatvTag().IsMatch(parts[2]) ? parts[1] : parts[2];
            }
        }

        int plus = user.IndexOf('+');
        if (plus >= 0)
        {
            user = user[..plus];
        }

        // Perl's s/\b\d+\b/#/g: a digit run not touching a word character ([A-Za-z0-9_]).
        user = StandaloneDigits().Replace(user, "#");
        return user + "@" + domain;
    }

    [GeneratedRegex("^[0-9a-z]{10}$", RegexOptions.CultureInvariant)]
    private static partial Regex BatvTag();

    [GeneratedRegex("(?<![A-Za-z0-9_])[0-9]+(?![A-Za-z0-9_])", RegexOptions.CultureInvariant)]
    private static partial Regex StandaloneDigits();
}
