using ContentFilter.Testing;

namespace ContentFilter.Fuzz.Tests;

/// <summary>Every seed and every past finding goes through its fuzz target without an exception.</summary>
/// <remarks>
/// <c>testdata/fuzz/&lt;target&gt;/</c> holds the seeds scripts/fuzz starts from; <c>testdata/fuzz/regressions/&lt;target&gt;/</c>
/// holds inputs afl-fuzz once found crashing or hanging, kept after the fix (found crashes become tests). The targets
/// check the codecs' invariants, so a replay fails on a wrong result too, not only on an exception.
/// </remarks>
public class FuzzCorpusTests
{
    private static string FuzzData => TestPaths.Data("fuzz");

    public static TheoryData<string, string> Seeds() => Files(FuzzData);

    public static TheoryData<string, string> Regressions() => Files(Path.Combine(FuzzData, "regressions"));

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Target_Seed_KeepsItsInvariants(string target, string file) => Replay(target, file);

    [Theory]
    [MemberData(nameof(Regressions))]
    public void Target_PastFinding_KeepsItsInvariants(string target, string file) => Replay(target, file);

    [Fact]
    public void Corpus_EveryTargetHasSeeds_AndEveryFolderNamesATarget()
    {
        foreach (FuzzTarget t in FuzzTargets.All)
        {
            Assert.True(Directory.EnumerateFiles(Path.Combine(FuzzData, t.Name)).Any(), $"no seeds for {t.Name}");
        }
        string[] known = [.. FuzzTargets.All.Select(t => t.Name), "regressions", "dict"];
        foreach (string dir in Directory.EnumerateDirectories(FuzzData).Concat(Directory.EnumerateDirectories(Path.Combine(FuzzData, "regressions"))))
        {
            Assert.Contains(Path.GetFileName(dir), known);
        }
    }

    [Fact]
    public void Corpus_Regressions_ArePresent()
    {
        // The findings of the first fuzzing runs; an empty folder would make the replay theory pass vacuously.
        Assert.NotEmpty(Regressions());
    }

    private static void Replay(string target, string file)
    {
        FuzzTarget t = FuzzTargets.Find(target) ?? throw new InvalidOperationException($"no fuzz target {target}");
        byte[] data = File.ReadAllBytes(Path.Combine(FuzzData, file));
        t.Run(data); // throws FuzzInvariantException or the codec's exception on a regression
    }

    private static TheoryData<string, string> Files(string root)
    {
        var data = new TheoryData<string, string>();
        foreach (FuzzTarget t in FuzzTargets.All)
        {
            string dir = Path.Combine(root, t.Name);
            if (!Directory.Exists(dir))
            {
                continue;
            }
            foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
            {
                data.Add(t.Name, Path.GetRelativePath(FuzzData, file));
            }
        }
        return data;
    }
}
