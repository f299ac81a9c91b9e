namespace ContentFilter.Checks.Tests;

/// <summary>Where the shared published test suites are: ../shared/testsuites beside the repository (read in place, never copied).</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared/testsuites from the repository; in a git worktree deeper down, the nearest ancestor's shared/.</summary>
    public static string TestSuites { get; } = FindTestSuites();

    private static string FindTestSuites()
    {
        string? dir = Path.GetDirectoryName(RepoRoot.TrimEnd(Path.DirectorySeparatorChar));
        while (dir is not null)
        {
            string candidate = Path.Combine(dir, "shared", "testsuites");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
            dir = Path.GetDirectoryName(dir);
        }
        return Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "testsuites"));
    }

    private static string FindRepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null)
        {
            if (File.Exists(Path.Combine(dir, "Directory.Packages.props")))
            {
                return dir;
            }
            dir = Path.GetDirectoryName(dir);
        }
        return Directory.GetCurrentDirectory();
    }
}
