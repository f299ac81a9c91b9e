namespace ContentFilter.Checks.Banned;

/// <summary>Rules and limits of the <c>banned</c> check (config section <c>Banned</c>).</summary>
/// <remarks>
/// The default extension list follows amavisd-new's <c>$banned_filename_re</c> defaults (exe vbs pif scr bat cmd com
/// cpl dll, plus the scripting hosts js jse wsf wsh hta) and adds what malware campaigns moved to since: msi/msp
/// installers, lnk/scf shortcuts, reg, ps1, chm, and disk images (iso img vhd) that Windows mounts on a double click
/// and that carried the payload past extension filters in 2022. Lists in configuration replace these defaults
/// (set <see cref="Extensions"/> to an explicit list; empty lists are treated as "use the defaults").
/// </remarks>
public sealed class BannedContentOptions
{
    /// <summary>Run the banned attachment check. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The default banned file name extensions (lower case, without the dot).</summary>
    public static IReadOnlyList<string> DefaultExtensions { get; } = new[]
    {
        "exe", "vbs", "vbe", "pif", "scr", "bat", "cmd", "com", "cpl", "dll",
        "js", "jse", "wsf", "wsh", "hta", "msi", "msp", "lnk", "scf", "reg", "ps1", "chm",
        "iso", "img", "vhd", "vhdx",
    };

    /// <summary>The default banned declared MIME types (executables and HTML applications).</summary>
    public static IReadOnlyList<string> DefaultMimeTypes { get; } = new[]
    {
        "application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
        "application/x-ms-dos-executable", "application/x-executable", "application/hta",
        "application/x-ms-shortcut", "application/x-msi", "application/x-ms-installer",
    };

    /// <summary>Banned extensions; empty means <see cref="DefaultExtensions"/>.</summary>
    public List<string> Extensions { get; set; } = new();

    /// <summary>Banned declared types (<c>Content-Type</c>); empty means <see cref="DefaultMimeTypes"/>.</summary>
    public List<string> MimeTypes { get; set; } = new();

    /// <summary>Extra .NET regular expressions matched (case-insensitively) against whole file names. Default none.</summary>
    public List<string> FileNameRegexes { get; set; } = new();

    /// <summary>Ban any name with a double extension ending in a banned one (<c>invoice.pdf.exe</c>) and report it
    /// as such. Default true.</summary>
    public bool BanDoubleExtensions { get; set; } = true;

    /// <summary>Ban parts whose decoded content starts with a DOS/PE executable header (<c>MZ</c>) whatever they are
    /// called. Default true.</summary>
    public bool DetectExecutables { get; set; } = true;

    /// <summary>Ban names containing Unicode bidirectional overrides (U+202E makes <c>exe.pdf</c> look like
    /// <c>fdp.exe</c>). Default true.</summary>
    public bool BanBidiOverrides { get; set; } = true;

    /// <summary>Look at the names inside zip archives. Default true.</summary>
    public bool InspectArchives { get; set; } = true;

    /// <summary>Deepest MIME nesting parsed. Default 32.</summary>
    public int MaxMimeDepth { get; set; } = 32;

    /// <summary>Most MIME parts looked at. Default 1000.</summary>
    public int MaxParts { get; set; } = 1000;

    /// <summary>Deepest archive-in-archive nesting opened (zip loops end here). Default 3.</summary>
    public int MaxArchiveDepth { get; set; } = 3;

    /// <summary>Most archive entries looked at per message. Default 2000.</summary>
    public int MaxArchiveEntries { get; set; } = 2000;

    /// <summary>Most bytes decoded/decompressed to read archives, per message (zip bombs end here). Default 16 MiB.</summary>
    public long MaxArchiveBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Checks the values; returns problems in words.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (string r in FileNameRegexes)
        {
            try
            {
                _ = new System.Text.RegularExpressions.Regex(r);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"Banned:FileNameRegexes: '{r}': {ex.Message}");
            }
        }
        if (MaxMimeDepth < 1 || MaxParts < 1 || MaxArchiveDepth < 0 || MaxArchiveEntries < 0 || MaxArchiveBytes < 0)
        {
            errors.Add("Banned: limits must not be negative (depth and parts at least 1)");
        }
        return errors;
    }
}
