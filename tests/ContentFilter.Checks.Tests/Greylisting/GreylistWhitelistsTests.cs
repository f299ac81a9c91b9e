using System.Net;
using ContentFilter.Checks.Greylisting;

namespace ContentFilter.Checks.Tests.Greylisting;

public class GreylistWhitelistsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cf-wl-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData("example.com", "example.com", "198.51.100.1", true)]
    [InlineData("example.com", "mx1.EXAMPLE.com", "198.51.100.1", true)]
    [InlineData("example.com", "badexample.com", "198.51.100.1", false)]
    [InlineData("example.com", "example.com.evil.test", "198.51.100.1", false)]
    [InlineData("198.51.100.1", "unknown", "198.51.100.1", true)]
    [InlineData("198.51.100.1", "unknown", "198.51.100.2", false)]
    [InlineData("198.51.100.0/30", "unknown", "198.51.100.3", true)]
    [InlineData("198.51.100.0/30", "unknown", "198.51.100.4", false)]
    [InlineData("198.51.100", "unknown", "198.51.100.255", true)]
    [InlineData("198.51", "unknown", "198.51.0.9", true)]
    [InlineData("198.51", "unknown", "198.51.1.9", false)]
    [InlineData("2001:db8::/48", "unknown", "2001:db8:0:ffff::1", true)]
    [InlineData("2001:db8::/48", "unknown", "2001:db8:1::1", false)]
    [InlineData("2001:db8::25", "unknown", "2001:db8::25", true)]
    [InlineData("/^smtp[0-9]*\\.example\\.org$/", "SMTP7.example.org", "198.51.100.1", true)]
    [InlineData("/^smtp[0-9]*\\.example\\.org$/", "smtpx.example.org", "198.51.100.1", false)]
    [InlineData("198.51.100.0/30", "unknown", "::ffff:198.51.100.2", true)]
    public void MatchesClient_Entry_AsPostgrey(string entry, string clientName, string address, bool expected)
    {
        GreylistWhitelists lists = GreylistWhitelists.FromEntries([entry], []);

        Assert.Equal(expected, lists.MatchesClient(clientName, IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("postmaster@", "postmaster@example.net", true)]
    [InlineData("postmaster@", "POSTMASTER+x@example.net", true)]
    [InlineData("postmaster@", "postmasters@example.net", false)]
    [InlineData("abuse@example.net", "abuse@example.net", true)]
    [InlineData("abuse@example.net", "abuse+x@Example.NET", true)]
    [InlineData("abuse@example.net", "abuse@sub.example.net", false)]
    [InlineData("example.net", "anyone@example.net", true)]
    [InlineData("example.net", "anyone@mail.example.net", true)]
    [InlineData("example.net", "anyone@badexample.net", false)]
    [InlineData("example.net", "example.net@other.test", false)]
    [InlineData("/^.*-owner@/", "list-owner@example.net", true)]
    [InlineData("/^.*-owner@/", "owner@example.net", false)]
    public void MatchesRecipient_Entry_AsPostgrey(string entry, string recipient, bool expected)
    {
        GreylistWhitelists lists = GreylistWhitelists.FromEntries([], [entry]);

        Assert.Equal(expected, lists.MatchesRecipient(recipient));
    }

    // Client /regex/ entries are matched as one joined expression; each name must get what the entries alone give.
    // The backreference entry comes after one with a group of its own: joined, its \1 would name the wrong group.
    private static readonly string[] Patterns =
    [
        "/^(b)q+\\.example\\.org$/",
        "/^(a)\\1x\\.example\\.org$/",
        "/(?-i)^Upper\\.example\\.org$/",
        "/^mail\\d+\\.example\\.com$/",
        "/^(?:smtp\\w*|postfix)[0-9]+-g[0-9]+\\.free\\.fr$/",
        "/^.*?.server.arvato-systems.de$/",
        "/relay$/",
    ];

    [Theory]
    [InlineData("bqq.example.org")]
    [InlineData("aax.example.org")]
    [InlineData("abx.example.org")]
    [InlineData("Upper.example.org")]
    [InlineData("upper.example.org")]
    [InlineData("MAIL12.example.com")]
    [InlineData("mail.example.com")]
    [InlineData("smtpout3-g7.free.fr")]
    [InlineData("x1.server.arvato-systems.de")]
    [InlineData("out.relay")]
    [InlineData("relay.example.net")]
    [InlineData("mx1.sender5.example")]
    public void MatchesClient_ManyRegexEntries_AsEachEntryAlone(string clientName)
    {
        GreylistWhitelists joined = GreylistWhitelists.FromEntries(Patterns, []);
        bool alone = Patterns.Any(p => GreylistWhitelists.FromEntries([p], []).MatchesClient(clientName, IPAddress.Loopback));

        Assert.Equal(alone, joined.MatchesClient(clientName, IPAddress.Loopback));
    }

    [Fact]
    public void MatchesClient_ManyRegexEntries_MatchWhatTheyShould()
    {
        GreylistWhitelists lists = GreylistWhitelists.FromEntries(Patterns, []);

        string[] matching = ["bqq.example.org", "aax.example.org", "Upper.example.org", "MAIL12.example.com", "smtpout3-g7.free.fr", "x1.server.arvato-systems.de", "out.relay"];
        string[] others = ["abx.example.org", "upper.example.org", "mail.example.com", "relay.example.net", "mx1.sender5.example"];
        Assert.All(matching, n => Assert.True(lists.MatchesClient(n, IPAddress.Loopback), n));
        Assert.All(others, n => Assert.False(lists.MatchesClient(n, IPAddress.Loopback), n));
    }

    [Fact]
    public void MatchesClient_APathologicalRegexTimesOut_TheOtherEntriesStillMatch()
    {
        GreylistWhitelists lists = GreylistWhitelists.FromEntries(["/^(a+)+$/", "/!$/"], []);

        Assert.True(lists.MatchesClient(new string('a', 40) + "!", IPAddress.Loopback));
    }

    [Fact]
    public void MatchesClient_ManyDomains_NameOrParentListed()
    {
        GreylistWhitelists lists = GreylistWhitelists.FromEntries(["google.com", "Outlook.COM", "example.net.", "mail.ru"], []);

        Assert.True(lists.MatchesClient("mail-ed1-f41.google.com", IPAddress.Loopback));
        Assert.True(lists.MatchesClient("GOOGLE.com", IPAddress.Loopback));
        Assert.True(lists.MatchesClient("a.b.protection.outlook.com", IPAddress.Loopback));
        Assert.True(lists.MatchesClient("mx.example.net", IPAddress.Loopback));
        Assert.False(lists.MatchesClient("notgoogle.com", IPAddress.Loopback));
        Assert.False(lists.MatchesClient("google.com.evil.test", IPAddress.Loopback));
        Assert.False(lists.MatchesClient("com", IPAddress.Loopback));
        Assert.False(lists.MatchesClient("ru", IPAddress.Loopback));
        Assert.False(lists.MatchesClient("unknown", IPAddress.Loopback));
    }

    [Fact]
    public void Load_PostgreyFormatFiles_CommentsBlanksAndLocalRead()
    {
        string clients = Write("whitelist_clients", "# comment\n\n  example.com   # trailing comment\n192.0.2.0/24\nnot a valid entry!\n");
        string clientsLocal = Write("whitelist_clients.local", "198.51.100.7\n");
        string recipients = Write("whitelist_recipients", "postmaster@\n\tabuse@\n");
        var warnings = new List<string>();

        GreylistWhitelists lists = GreylistWhitelists.Load([clients, clientsLocal], [recipients, recipients + ".local"], warnings);

        Assert.Equal(3, lists.ClientEntries);
        Assert.Equal(2, lists.RecipientEntries);
        Assert.True(lists.MatchesClient("unknown", IPAddress.Parse("198.51.100.7")));
        Assert.True(lists.MatchesClient("a.example.com", IPAddress.Parse("203.0.113.1")));
        Assert.True(lists.MatchesRecipient("abuse@x.test"));
        string warning = Assert.Single(warnings);
        Assert.Contains("whitelist_clients line 5", warning);
    }

    [Fact]
    public void Load_MissingMainFile_Warns()
    {
        var warnings = new List<string>();

        GreylistWhitelists lists = GreylistWhitelists.Load([Path.Combine(_dir, "absent")], [], warnings);

        Assert.Equal(0, lists.ClientEntries);
        Assert.Contains("cannot read", Assert.Single(warnings));
    }

    [Theory]
    [InlineData("whitelist_clients")]
    [InlineData("whitelist_recipients")]
    public void ShippedDefaults_LoadWithoutWarnings(string name)
    {
        string path = Path.Combine(RepoRoot(), "etc", name);
        var warnings = new List<string>();

        GreylistWhitelists lists = name.Contains("clients")
            ? GreylistWhitelists.Load([path], [], warnings)
            : GreylistWhitelists.Load([], [path], warnings);

        Assert.Empty(warnings);
        Assert.True(lists.ClientEntries + lists.RecipientEntries > 0);
    }

    [Fact]
    public void ShippedRecipientDefaults_PostmasterAndAbuseWhitelisted()
    {
        var warnings = new List<string>();
        GreylistWhitelists lists = GreylistWhitelists.Load([], [Path.Combine(RepoRoot(), "etc", "whitelist_recipients")], warnings);

        Assert.True(lists.MatchesRecipient("postmaster@example.net"));
        Assert.True(lists.MatchesRecipient("abuse@example.net"));
        Assert.False(lists.MatchesRecipient("alice@example.net"));
    }

    internal static string RepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "ContentFilter.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? throw new DirectoryNotFoundException("repository root not found");
    }
}
