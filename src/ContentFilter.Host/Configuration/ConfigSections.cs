namespace ContentFilter.Host.Configuration;

/// <summary>The component sections of <c>contentfilter.json</c> and the option types they bind to.</summary>
public static class ConfigSections
{
    /// <summary>Section name to options type, in the order the sample configuration lists them.</summary>
    public static IReadOnlyList<(string Name, Type Type)> Components { get; } = new List<(string, Type)>
    {
        ("Antivirus", typeof(ContentFilter.Checks.Antivirus.ClamAvOptions)),
        ("Spam", typeof(ContentFilter.Checks.Spam.SpamAssassinOptions)),
        ("Banned", typeof(ContentFilter.Checks.Banned.BannedContentOptions)),
        ("Spf", typeof(ContentFilter.Checks.Spf.SpfOptions)),
        ("Dkim", typeof(ContentFilter.Checks.Dkim.DkimOptions)),
        ("Dmarc", typeof(ContentFilter.Checks.Dmarc.DmarcOptions)),
        ("Arc", typeof(ContentFilter.Checks.Arc.ArcOptions)),
        ("Verdict", typeof(ContentFilter.Pipeline.Verdicts.VerdictPolicyOptions)),
        ("Quarantine", typeof(ContentFilter.Pipeline.Quarantine.QuarantineOptions)),
        ("Dns", typeof(ContentFilter.Checks.Dns.DnsOptions)),
        ("Milter", typeof(ContentFilter.Frontends.Milter.MilterOptions)),
        ("Policy", typeof(ContentFilter.Frontends.Policy.PolicySessionOptions)),
        ("Greylist", typeof(ContentFilter.Checks.Greylisting.GreylistOptions)),
    };

    /// <summary>Validates one component section; adds messages naming the key.</summary>
    public static void Validate(string section, object options, List<string> errors)
    {
        IEnumerable<string>? problems = options switch
        {
            ContentFilter.Frontends.Policy.PolicySessionOptions p => p.Validate(),
            ContentFilter.Checks.Antivirus.ClamAvOptions a => a.Validate(),
            ContentFilter.Checks.Spam.SpamAssassinOptions sp => sp.Validate(),
            ContentFilter.Checks.Banned.BannedContentOptions b => b.Validate(),
            ContentFilter.Checks.Dkim.DkimOptions d => d.Validate(),
            ContentFilter.Checks.Arc.ArcOptions arc => arc.Validate(),
            ContentFilter.Checks.Greylisting.GreylistOptions g => g.Validate(),
            _ => null,
        };
        foreach (string p in problems ?? Array.Empty<string>())
        {
            errors.Add($"{section}: {p}");
        }
        // Keys are checked now, so check-config and start-up refuse an unsafe or unreadable key by name.
        if (options is ContentFilter.Checks.Dkim.DkimOptions { Sign.Enabled: true } dkim && errors.Count == 0)
        {
            try
            {
                var signer = new ContentFilter.Checks.Dkim.DkimSigner(dkim, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<ContentFilter.Checks.Dkim.DkimSigner>.Instance);
                foreach (string e in signer.ValidateKeys())
                {
                    errors.Add($"{section}:Sign: {e}");
                }
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"{section}:Sign: {ex.Message}");
            }
        }
        switch (options)
        {
            case ContentFilter.Frontends.Milter.MilterOptions m:
                try
                {
                    m.Validate();
                }
                catch (ArgumentException ex)
                {
                    errors.Add($"{section}: {ex.Message}");
                }
                break;
            case ContentFilter.Pipeline.Verdicts.VerdictPolicyOptions v:
                if (v.SpamKillLevel < v.SpamTag2Level)
                {
                    errors.Add($"{section}:SpamKillLevel: must not be below SpamTag2Level ({v.SpamTag2Level})");
                }
                break;
        }
    }
}
