using ContentFilter.Host.Configuration;

namespace ContentFilter.Host.Tests.Configuration;

public sealed class SampleConfigTests
{
    private static string RepoFile(string relative)
    {
        DirectoryInfo? dir = new(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ContentFilter.sln")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        return Path.Combine(dir!.FullName, relative);
    }

    [Fact]
    public void SampleConfig_LoadsWithoutErrors()
    {
        LoadedConfig c = ConfigLoader.Load(RepoFile("etc/contentfilter.json"), new Dictionary<string, string?>());
        Assert.Empty(c.Errors);
    }

    [Fact]
    public void SampleConfig_NamesEveryConfigurableSection()
    {
        string text = File.ReadAllText(RepoFile("etc/contentfilter.json"));
        foreach (string section in new[] { "Listeners", "NextHop", "Spool", "Audit", "Logging", "Limits" }.Concat(ConfigSections.Components.Select(c => c.Name)))
        {
            Assert.Contains($"\"{section}\"", text);
        }
    }

    [Fact]
    public void SampleConfig_EqualsTheBuiltInDefaults()
    {
        LoadedConfig sample = ConfigLoader.Load(RepoFile("etc/contentfilter.json"), new Dictionary<string, string?>());
        string defaults = Program.EffectiveJson(ConfigLoader.Load(null, new Dictionary<string, string?>(), readDefaultFile: false));
        Assert.Equal(defaults, Program.EffectiveJson(sample));
    }
}
