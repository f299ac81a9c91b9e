using ContentFilter.Frontends.Transport;
using ContentFilter.Host.Configuration;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Host.Tests.Configuration;

public sealed class ConfigLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cf-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string json)
    {
        string path = Path.Combine(_dir, "contentfilter.json");
        File.WriteAllText(path, json);
        return path;
    }

    private static readonly Dictionary<string, string?> NoEnvironment = new();

    [Fact]
    public void Load_NoFile_RunsOnLoopbackDefaults()
    {
        LoadedConfig c = ConfigLoader.Load(null, NoEnvironment, readDefaultFile: false);
        Assert.Null(c.File);
        Assert.Empty(c.Errors);
        Assert.Equal("127.0.0.1:10024", c.Settings.Listeners["inbound"].Endpoint);
        Assert.Equal(MessageDirection.Originating, c.Settings.Listeners["originating"].Direction);
        Assert.Equal("127.0.0.1:10026", c.Settings.Listeners["originating"].Endpoint);
        Assert.Equal(ListenerProtocol.Milter, c.Settings.Listeners["milter"].Protocol);
        Assert.Equal("127.0.0.1:10027", c.Settings.Listeners["milter"].Endpoint);
        Assert.Equal("127.0.0.1:10023", c.Settings.Listeners["policy"].Endpoint);
        Assert.Equal("127.0.0.1:10025", c.Settings.NextHop.Endpoint);
    }

    [Fact]
    public void Load_UnknownKey_NamesTheFullPath()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Spool": { "Directroy": "/x" } }"""), NoEnvironment);
        Assert.Contains(c.Errors, e => e.StartsWith("Spool:Directroy: unknown key", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_UnknownSection_IsAnError()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Spoool": { } , "Nonsense": 1 }"""), NoEnvironment);
        Assert.Contains(c.Errors, e => e.StartsWith("Nonsense: unknown key", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_BadNumber_NamesKeyAndValue()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Limits": { "MaxRecipients": "many" } }"""), NoEnvironment);
        Assert.Contains("Limits:MaxRecipients: 'many' is not a valid whole number", c.Errors);
    }

    [Fact]
    public void Load_BadEnum_ListsAllowedValues()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Listeners": { "inbound": { "Protocol": "Http" } } }"""), NoEnvironment);
        Assert.Contains(c.Errors, e => e.StartsWith("Listeners:inbound:Protocol: 'Http'", StringComparison.Ordinal) && e.Contains("Lmtp"));
    }

    [Fact]
    public void Load_CommentsAndTrailingCommas_AreAccepted()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""
            {
              // a comment, as in the shipped sample
              "HostName": "mx.example.net", /* and this */
              "NextHop": { "Endpoint": "127.0.0.1:10025", },
            }
            """), NoEnvironment);
        Assert.Empty(c.Errors);
        Assert.Equal("mx.example.net", c.Settings.HostName);
    }

    [Fact]
    public void Load_PartialListener_KeepsDefaultDirection()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Listeners": { "originating": { "Endpoint": "127.0.0.1:11026" } } }"""), NoEnvironment);
        Assert.Empty(c.Errors);
        Assert.Equal(MessageDirection.Originating, c.Settings.Listeners["originating"].Direction);
        Assert.Equal("127.0.0.1:11026", c.Settings.Listeners["originating"].Endpoint);
    }

    [Fact]
    public void Load_NonLoopbackWithoutAllowList_IsRefused()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Listeners": { "inbound": { "Endpoint": "192.0.2.10:10024" } } }"""), NoEnvironment);
        Assert.Contains(c.Errors, e => e.StartsWith("Listeners:inbound:AllowedClients: required", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_NonLoopbackWithAllowList_IsAccepted()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Listeners": { "inbound": { "Endpoint": "192.0.2.10:10024", "AllowedClients": [ "192.0.2.0/24" ] } } }"""), NoEnvironment);
        Assert.Empty(c.Errors);
    }

    [Fact]
    public void Load_NextHopIsOwnListener_IsALoop()
    {
        LoadedConfig c = ConfigLoader.Load(null, new Dictionary<string, string?> { ["CONTENTFILTER_NextHop__Endpoint"] = "127.0.0.1:10024" }, readDefaultFile: false);
        Assert.Contains(c.Errors, e => e.StartsWith("NextHop:Endpoint:", StringComparison.Ordinal) && e.Contains("loop"));
    }

    [Fact]
    public void Load_EnvironmentOverride_BeatsFile()
    {
        string path = Write("""{ "NextHop": { "Endpoint": "127.0.0.1:10025" } }""");
        LoadedConfig c = ConfigLoader.Load(path, new Dictionary<string, string?> { ["CONTENTFILTER_NextHop__Endpoint"] = "127.0.0.1:20025" });
        Assert.Empty(c.Errors);
        Assert.Equal("127.0.0.1:20025", c.Settings.NextHop.Endpoint);
    }

    [Fact]
    public void Load_ConfiguredList_ReplacesTheDefaultList()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Dkim": { "Sign": { "Headers": [ "From", "Subject" ] } } }"""), NoEnvironment);
        Assert.Empty(c.Errors);
        Assert.Equal(new[] { "From", "Subject" }, c.Get<ContentFilter.Checks.Dkim.DkimOptions>("Dkim").Sign.Headers);
    }

    [Fact]
    public void Load_UnconfiguredList_KeepsTheDefault()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Dkim": { "Verify": true } }"""), NoEnvironment);
        Assert.Contains("Reply-To", c.Get<ContentFilter.Checks.Dkim.DkimOptions>("Dkim").Sign.Headers);
    }

    [Fact]
    public void Load_DkimKeyReadableByOthers_IsRefusedNamingTheKey()
    {
        Assert.Equal(0, ContentFilter.Checks.Dkim.DkimKeyTool.Keygen("example.com", "sel", "ed25519", 2048, _dir, TextWriter.Null, TextWriter.Null));
        string key = Path.Combine(_dir, "sel.private");
        string json = $$"""{ "Dkim": { "Sign": { "Enabled": true, "Domains": [ { "Domain": "example.com", "Selector": "sel", "KeyFile": "{{key}}" } ] } } }""";

        Assert.Empty(ConfigLoader.Load(Write(json), NoEnvironment).Errors);

        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        LoadedConfig c = ConfigLoader.Load(Write(json), NoEnvironment);
        Assert.Contains(c.Errors, e => e.StartsWith("Dkim:Sign:", StringComparison.Ordinal) && e.Contains("sel._domainkey.example.com"));
    }

    [Fact]
    public void Load_GreylistPassSpfAndFcrdnsDomains_AreAccepted()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Greylist": { "PassSpf": true, "FcrdnsDomains": [ "bigsender.example" ] } }"""), NoEnvironment);

        Assert.Empty(c.Errors);
        var grey = c.Get<ContentFilter.Checks.Greylisting.GreylistOptions>("Greylist");
        Assert.True(grey.PassSpf);
        Assert.Equal(["bigsender.example"], grey.FcrdnsDomains);
    }

    [Fact]
    public void Load_MissingExplicitFile_IsAnError()
    {
        LoadedConfig c = ConfigLoader.Load(Path.Combine(_dir, "absent.json"), NoEnvironment);
        Assert.Contains(c.Errors, e => e.Contains("file not found"));
    }

    [Fact]
    public void Load_InvalidJson_IsAnErrorNotACrash()
    {
        LoadedConfig c = ConfigLoader.Load(Write("""{ "Spool": """), NoEnvironment);
        Assert.Contains(c.Errors, e => e.Contains("not valid JSON"));
    }

    [Theory]
    [InlineData("127.0.0.1:10024", true)]
    [InlineData("[::1]:10024", true)]
    [InlineData("unix:/run/contentfilter/milter.sock", true)]
    [InlineData("unix:relative.sock", false)]
    [InlineData("::1:10024", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.0.0.1:70000", false)]
    [InlineData("mail.example.com:25", false)]
    public void Load_ListenerEndpoint_AcceptsOnlyUsableForms(string text, bool ok)
    {
        LoadedConfig c = ConfigLoader.Load(null, new Dictionary<string, string?> { ["CONTENTFILTER_Listeners__inbound__Endpoint"] = text }, readDefaultFile: false);
        Assert.Equal(ok, !c.Errors.Any(e => e.StartsWith("Listeners:inbound:Endpoint:", StringComparison.Ordinal)));
    }
}
