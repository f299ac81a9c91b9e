using System.Text;
using ContentFilter.Checks.Dns;

namespace ContentFilter.Checks.Dkim;

/// <summary>The <c>contentfilter dkim keygen</c> and <c>dkim testkey</c> commands, as a class the CLI calls.</summary>
/// <remarks>
/// keygen writes the private key with mode 0600 from the start (never a moment of wider access) and prints the TXT
/// record split into quoted strings of at most 255 bytes (RFC 1035 §3.3.14), ready for a zone file. testkey
/// compares the published record with the private key and names each difference, so an admin sees "p= does not
/// match the key" rather than a later "dkim=fail" at receivers.
/// </remarks>
public sealed class DkimKeyTool
{
    private readonly IDnsResolver _dns;
    private readonly int _minimumKeyBits;

    /// <summary>Creates the tool.</summary>
    public DkimKeyTool(IDnsResolver dns, int minimumKeyBits = 1024)
    {
        _dns = dns;
        _minimumKeyBits = minimumKeyBits;
    }

    /// <summary>Generates a key, writes <c>DIR/selector.private</c> (0600) and <c>DIR/selector.txt</c>, and prints the record.</summary>
    /// <returns>0 on success, 1 on a usage error, 2 when the key file exists or cannot be written.</returns>
    public static int Keygen(string domain, string selector, string algorithm, int bits, string outDirectory, TextWriter output, TextWriter error)
    {
        DkimAlgorithm alg;
        switch (algorithm.ToLowerInvariant())
        {
            case "rsa":
            case "rsa-sha256":
                alg = DkimAlgorithm.RsaSha256;
                break;
            case "ed25519":
            case "ed25519-sha256":
                alg = DkimAlgorithm.Ed25519Sha256;
                break;
            default:
                error.WriteLine($"unknown algorithm '{algorithm}': use rsa or ed25519");
                return 1;
        }
        if (alg == DkimAlgorithm.RsaSha256 && (bits < 1024 || bits > 8192))
        {
            error.WriteLine("--bits must be between 1024 (RFC 8301 minimum) and 8192; 2048 is advised");
            return 1;
        }
        if (string.IsNullOrWhiteSpace(domain) || string.IsNullOrWhiteSpace(selector))
        {
            error.WriteLine("--domain and --selector are required");
            return 1;
        }
        using DkimPrivateKey key = DkimPrivateKey.Generate(alg, bits);
        string keyPath = Path.Combine(outDirectory, selector + ".private");
        string txtPath = Path.Combine(outDirectory, selector + ".txt");
        string zone = ZoneRecord(domain, selector, key.DnsRecord());
        try
        {
            Directory.CreateDirectory(outDirectory);
            var fso = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fso.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var s = new StreamWriter(new FileStream(keyPath, fso), new UTF8Encoding(false)))
            {
                s.Write(key.ExportPem());
            }
            File.WriteAllText(txtPath, zone + "\n");
        }
        catch (IOException e)
        {
            error.WriteLine($"cannot write {keyPath}: {e.Message} (an existing key is never overwritten)");
            return 2;
        }
        catch (UnauthorizedAccessException e)
        {
            error.WriteLine($"cannot write {keyPath}: {e.Message}");
            return 2;
        }
        output.WriteLine($"; private key written to {keyPath} (mode 0600); publish this record:");
        output.WriteLine(zone);
        return 0;
    }

    /// <summary>A zone-file line: <c>sel._domainkey.domain. IN TXT ( "..." "..." )</c>, strings of at most 255 bytes.</summary>
    public static string ZoneRecord(string domain, string selector, string record)
    {
        var sb = new StringBuilder();
        sb.Append(selector).Append("._domainkey.").Append(domain.TrimEnd('.')).Append(". IN TXT (");
        foreach (string chunk in SplitTxt(record))
        {
            sb.Append("\n\t\"").Append(chunk).Append('"');
        }
        sb.Append(" )");
        return sb.ToString();
    }

    /// <summary>Splits a record into character-strings of at most 255 bytes (the record is ASCII).</summary>
    public static IReadOnlyList<string> SplitTxt(string record)
    {
        var parts = new List<string>();
        for (int i = 0; i < record.Length; i += 255)
        {
            parts.Add(record.Substring(i, Math.Min(255, record.Length - i)));
        }
        return parts;
    }

    /// <summary>Checks the key file and the published record; returns the problems (empty when all is well) and notes.</summary>
    public async Task<DkimKeyTestReport> TestKeyAsync(string domain, string selector, string keyFile, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var notes = new List<string>();
        DkimPrivateKey? key = null;
        if (DkimKeySafety.Check(keyFile) is string unsafeReason)
        {
            problems.Add(unsafeReason);
        }
        try
        {
            key = DkimPrivateKey.Load(keyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            problems.Add($"cannot use key file {keyFile}: {e.Message}");
        }
        using (key)
        {
            string name = $"{selector}._domainkey.{domain.TrimEnd('.')}";
            DnsAnswer<string> answer = await _dns.TxtAsync(name, cancellationToken).ConfigureAwait(false);
            if (answer.Status == DnsStatus.TempError)
            {
                problems.Add($"DNS query for {name} failed (timeout or SERVFAIL)");
                return new DkimKeyTestReport(problems, notes);
            }
            if (answer.Status != DnsStatus.Ok || answer.Records.Count == 0)
            {
                problems.Add($"no TXT record at {name} ({(answer.Status == DnsStatus.NxDomain ? "NXDOMAIN" : "no data")})");
                return new DkimKeyTestReport(problems, notes);
            }
            if (answer.Records.Count > 1)
            {
                notes.Add($"{answer.Records.Count} TXT records at {name}; verifiers may pick any");
            }
            if (!DkimPublicKey.TryParse(answer.Records[0], out DkimPublicKey? published, out string? error))
            {
                problems.Add($"record at {name} is not a valid DKIM key record: {error}");
                return new DkimKeyTestReport(problems, notes);
            }
            if (published!.Revoked)
            {
                problems.Add($"record at {name} is revoked (empty p=)");
                return new DkimKeyTestReport(problems, notes);
            }
            if (published.KeyType == "rsa" && published.KeyBits < _minimumKeyBits)
            {
                problems.Add($"published RSA key is too short ({published.KeyBits} bits, at least {_minimumKeyBits} needed; RFC 8301)");
            }
            if (published.Testing)
            {
                notes.Add("record has t=y (testing): receivers may ignore signature results");
            }
            if (key is not null)
            {
                if (published.KeyType != key.KeyType)
                {
                    problems.Add($"k= mismatch: record says {published.KeyType}, key file holds {key.KeyType}");
                }
                else if (!SamePublicKey(published, key))
                {
                    problems.Add("p= mismatch: the published public key does not belong to the private key");
                }
                if (published.HashAlgorithms is not null && !published.HashAlgorithms.Contains("sha256"))
                {
                    problems.Add("h= in the record does not allow sha256");
                }
            }
        }
        return new DkimKeyTestReport(problems, notes);
    }

    private static bool SamePublicKey(DkimPublicKey published, DkimPrivateKey key)
    {
        if (published.KeyType == "ed25519")
        {
            return published.KeyBase64 == key.PublicKeyBase64;
        }
        // Compare the RSA parameters, not the encodings: a record may carry RSAPublicKey instead of SPKI.
        using var a = DkimPublicKey.ImportRsa(published.KeyData);
        using var b = DkimPublicKey.ImportRsa(Convert.FromBase64String(key.PublicKeyBase64));
        var pa = a.ExportParameters(false);
        var pb = b.ExportParameters(false);
        return pa.Modulus.AsSpan().SequenceEqual(pb.Modulus) && pa.Exponent.AsSpan().SequenceEqual(pb.Exponent);
    }
}
