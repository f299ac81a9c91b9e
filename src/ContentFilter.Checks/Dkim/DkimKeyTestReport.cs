namespace ContentFilter.Checks.Dkim;

/// <summary>What <c>dkim testkey</c> found.</summary>
/// <param name="Problems">Differences that make signatures fail (empty when the key and record match).</param>
/// <param name="Notes">Things worth knowing that do not break signatures.</param>
public sealed record DkimKeyTestReport(IReadOnlyList<string> Problems, IReadOnlyList<string> Notes)
{
    /// <summary>True when nothing is wrong.</summary>
    public bool Ok => Problems.Count == 0;

    /// <summary>Prints the report; returns the exit code (0 ok, 1 problems).</summary>
    public int Print(TextWriter output)
    {
        foreach (string p in Problems)
        {
            output.WriteLine("problem: " + p);
        }
        foreach (string n in Notes)
        {
            output.WriteLine("note: " + n);
        }
        if (Ok)
        {
            output.WriteLine("key OK: the published record matches the private key");
        }
        return Ok ? 0 : 1;
    }
}
