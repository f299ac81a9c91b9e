using ContentFilter.Checks.Dkim;

namespace ContentFilter.Checks.Tests.Dkim;

public sealed class DkimTablesTests
{
    [Fact]
    public void KeyTable_ParsesPathsInlineAndPercent()
    {
        DkimKeyTable t = DkimKeyTable.Parse(["# comment", "", "k1  example.com:sel:/etc/keys/k1.private", "k2\t%:mail:./k2.private  # trailing", "k3 example.org:s3:MIIBVgIBADAN"], "/etc/opendkim");
        Assert.Equal("/etc/keys/k1.private", t.Entries["k1"].KeyFile);
        Assert.Equal(("%", "/etc/opendkim/k2.private"), (t.Entries["k2"].Domain, t.Entries["k2"].KeyFile));
        Assert.Equal("MIIBVgIBADAN", t.Entries["k3"].InlineKey);
    }

    [Fact]
    public void KeyTable_Malformed_SaysLine()
    {
        var e = Assert.Throws<FormatException>(() => DkimKeyTable.Parse(["ok example.com:s:/k", "bad example.com:s"], "/"));
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void SigningTable_Refile_FirstMatchInFileOrder()
    {
        DkimSigningTable t = DkimSigningTable.Parse(["*@sales.example.com sales", "*@example.com main", "*@*.example.com sub"], wildcards: true);
        Assert.Equal("sales", Assert.Single(t.Lookup("Joe@Sales.Example.com", all: false)).KeyName);
        Assert.Equal("main", Assert.Single(t.Lookup("joe@example.com", all: false)).KeyName);
        Assert.Equal(["sales", "sub"], t.Lookup("joe@sales.example.com", all: true).Select(x => x.KeyName));
        Assert.Empty(t.Lookup("joe@example.org", all: false));
    }

    [Fact]
    public void SigningTable_Exact_OpenDkimLookupOrder()
    {
        DkimSigningTable t = DkimSigningTable.Parse(["* default", ".example.com parent", "example.com host", "joe@example.com joe", "joe@.example.com joeparent"], wildcards: false);
        Assert.Equal("joe", t.Lookup("joe@example.com", false)[0].KeyName);
        Assert.Equal("host", t.Lookup("ann@example.com", false)[0].KeyName);
        Assert.Equal("joeparent", t.Lookup("joe@mail.example.com", false)[0].KeyName);
        Assert.Equal("parent", t.Lookup("ann@mail.example.com", false)[0].KeyName);
        Assert.Equal("default", t.Lookup("ann@example.org", false)[0].KeyName);
    }

    [Fact]
    public void SigningTable_SignerColumn_IsIdentity()
    {
        DkimSigningTable t = DkimSigningTable.Parse(["example.com key1 @mail.example.com"], wildcards: false);
        Assert.Equal(("key1", "@mail.example.com"), t.Lookup("a@example.com", false)[0]);
    }
}
