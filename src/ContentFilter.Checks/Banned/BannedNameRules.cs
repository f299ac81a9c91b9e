using System.Text.RegularExpressions;

namespace ContentFilter.Checks.Banned;

/// <summary>Decides whether one file name or declared type is banned, and why. Pure, so every trick is a unit test.</summary>
/// <remarks>
/// Names are judged as Windows would open them: trailing dots and white space are dropped (<c>run.exe .</c> runs
/// <c>run.exe</c>) and white space before the extension is ignored (<c>invoice.pdf      .exe</c>, padded so that
/// a mail client shows only the <c>.pdf</c>). Comparisons ignore case.
/// </remarks>
public sealed class BannedNameRules
{
    private readonly HashSet<string> _extensions;
    private readonly HashSet<string> _mimeTypes;
    private readonly Regex[] _regexes;
    private readonly BannedContentOptions _options;

    /// <summary>Builds the rules from options (empty lists mean the defaults).</summary>
    public BannedNameRules(BannedContentOptions options)
    {
        _options = options;
        _extensions = new HashSet<string>((options.Extensions.Count == 0 ? BannedContentOptions.DefaultExtensions : options.Extensions).Select(e => e.Trim().TrimStart('.')), StringComparer.OrdinalIgnoreCase);
        _mimeTypes = new HashSet<string>(options.MimeTypes.Count == 0 ? BannedContentOptions.DefaultMimeTypes : options.MimeTypes, StringComparer.OrdinalIgnoreCase);
        _regexes = options.FileNameRegexes.Select(r => new Regex(r, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100))).ToArray();
    }

    /// <summary>The reason <paramref name="fileName"/> is banned, or null.</summary>
    public string? CheckName(string? fileName)
    {
        if (string.IsNullOrEmpty(fileName))
        {
            return null;
        }
        if (_options.BanBidiOverrides && fileName.AsSpan().IndexOfAny("\u202A\u202B\u202D\u202E\u2066\u2067\u2068") >= 0)
        {
            return "bidi override in name";
        }
        string name = Normalize(fileName);
        int lastDot = name.LastIndexOf('.');
        if (lastDot >= 0)
        {
            string ext = name[(lastDot + 1)..].Trim();
            if (_extensions.Contains(ext))
            {
                string stem = name[..lastDot].TrimEnd();
                int prevDot = stem.LastIndexOf('.');
                if (_options.BanDoubleExtensions && prevDot >= 0 && prevDot < stem.Length - 1 && stem[(prevDot + 1)..].Any(char.IsAsciiLetter))
                {
                    return $"double extension .{stem[(prevDot + 1)..]}.{ext.ToLowerInvariant()}";
                }
                return $"extension .{ext.ToLowerInvariant()}";
            }
        }
        foreach (Regex r in _regexes)
        {
            try
            {
                if (r.IsMatch(fileName))
                {
                    return $"name matches /{r}/";
                }
            }
            catch (RegexMatchTimeoutException)
            {
                return "name too costly to match (regex timeout)";
            }
        }
        return null;
    }

    /// <summary>The reason the declared type <paramref name="mimeType"/> is banned, or null.</summary>
    public string? CheckType(string? mimeType) =>
        mimeType is not null && _mimeTypes.Contains(mimeType.Trim()) ? $"type {mimeType.ToLowerInvariant()}" : null;

    /// <summary>The name as Windows would use it: trailing dots and white space dropped, control characters removed.</summary>
    public static string Normalize(string fileName)
    {
        string n = new(fileName.Where(c => !char.IsControl(c)).ToArray());
        // Only the last path segment names the file.
        int slash = Math.Max(n.LastIndexOf('/'), n.LastIndexOf('\\'));
        if (slash >= 0 && slash < n.Length - 1)
        {
            n = n[(slash + 1)..];
        }
        return n.TrimEnd(' ', '\t', '.', '\u00A0');
    }
}
