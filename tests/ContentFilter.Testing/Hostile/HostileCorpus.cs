using Xunit;

namespace ContentFilter.Testing.Hostile;

/// <summary>The hostile-input corpus in <c>testdata/hostile/</c>: one folder per front door, one test per file.</summary>
public static class HostileCorpus
{
    /// <summary><c>testdata/hostile</c>.</summary>
    public static string Root => TestPaths.Data("hostile");

    /// <summary>The case files of one door (<c>*.json</c>), sorted; for milter the raw <c>*.bin</c> packets.</summary>
    public static IReadOnlyList<string> Files(string door, string pattern = "*.json")
    {
        string dir = Path.Combine(Root, door);
        return Directory.Exists(dir) ? Directory.GetFiles(dir, pattern).Order(StringComparer.Ordinal).ToList() : [];
    }

    /// <summary>Theory data: the case names of one door (adding a file adds a test).</summary>
    public static TheoryData<string> Names(string door, string pattern = "*.json")
    {
        var data = new TheoryData<string>();
        foreach (string f in Files(door, pattern))
        {
            data.Add(Path.GetFileName(f));
        }
        return data;
    }

    /// <summary>Loads a case by door and file name.</summary>
    public static HostileCase Get(string door, string fileName) => HostileCase.Load(Path.Combine(Root, door, fileName));
}
