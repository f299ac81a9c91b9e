using System.Security.Cryptography;
using System.Text;
using ContentFilter.Checks.Dkim;

namespace ContentFilter.Checks.Tests.Dkim;

public sealed class DkimCanonicalizationTests
{
    private static string Header(string raw, DkimCanonicalization c)
    {
        var output = new List<byte>();
        DkimHeaderCanonicalizer.Canonicalize(Encoding.ASCII.GetBytes(raw), c, output);
        return Encoding.ASCII.GetString(output.ToArray());
    }

    private static string Body(string body, DkimCanonicalization c, long? limit = null, int chunk = int.MaxValue)
    {
        // Hash with SHA-256 and compare against the hash of the expected text: proves the exact bytes hashed.
        using var hasher = new DkimBodyHasher(c, HashAlgorithmName.SHA256, limit);
        byte[] bytes = Encoding.ASCII.GetBytes(body);
        for (int i = 0; i < bytes.Length; i += chunk)
        {
            hasher.Write(bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i)));
        }
        return Convert.ToBase64String(hasher.Complete());
    }

    private static string Hash(string s) => Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(s)));

    [Fact]
    public void Header_Rfc6376Example_Relaxed()
    {
        // RFC 6376 §3.4.5.
        Assert.Equal("a:X\r\n", Header("A: X\r\n", DkimCanonicalization.Relaxed));
        Assert.Equal("b:Y Z\r\n", Header("B : Y\t\r\n\tZ  \r\n", DkimCanonicalization.Relaxed));
    }

    [Fact]
    public void Header_Simple_KeepsBytes()
    {
        Assert.Equal("B : Y\t\r\n\tZ  \r\n", Header("B : Y\t\r\n\tZ  \r\n", DkimCanonicalization.Simple));
    }

    [Fact]
    public void Body_Rfc6376Example_RelaxedAndSimple()
    {
        const string body = " C \r\nD \t E\r\n\r\n\r\n";
        Assert.Equal(Hash(" C\r\nD E\r\n"), Body(body, DkimCanonicalization.Relaxed));
        Assert.Equal(Hash(" C \r\nD \t E\r\n"), Body(body, DkimCanonicalization.Simple));
    }

    [Fact]
    public void Body_Empty_SimpleIsCrlf_RelaxedIsEmpty()
    {
        Assert.Equal(Hash("\r\n"), Body(string.Empty, DkimCanonicalization.Simple));
        Assert.Equal(Hash(string.Empty), Body(string.Empty, DkimCanonicalization.Relaxed));
        Assert.Equal(Hash("\r\n"), Body("\r\n\r\n", DkimCanonicalization.Simple));
        Assert.Equal(Hash(string.Empty), Body("  \r\n\t\r\n", DkimCanonicalization.Relaxed));
    }

    [Fact]
    public void Body_NoFinalCrlf_GetsOne()
    {
        Assert.Equal(Hash("abc\r\n"), Body("abc", DkimCanonicalization.Simple));
        Assert.Equal(Hash("abc\r\n"), Body("abc  ", DkimCanonicalization.Relaxed));
    }

    [Fact]
    public void Body_LengthLimit_HashesOnlyThatMany()
    {
        Assert.Equal(Hash("hello"), Body("hello world\r\n", DkimCanonicalization.Simple, limit: 5));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void Body_AnyChunking_SameHash(int chunk)
    {
        const string body = "a  b \r\n\r\n c\t\r\r\n\r\nend \r\n\r\n";
        Assert.Equal(Body(body, DkimCanonicalization.Relaxed), Body(body, DkimCanonicalization.Relaxed, chunk: chunk));
        Assert.Equal(Body(body, DkimCanonicalization.Simple), Body(body, DkimCanonicalization.Simple, chunk: chunk));
    }

    [Fact]
    public void RemoveSignatureValue_KeepsEverythingButB()
    {
        byte[] raw = Encoding.ASCII.GetBytes("DKIM-Signature: v=1; b=abc\r\n\tdef; bh=xyz; d=example.com\r\n");
        Assert.Equal("DKIM-Signature: v=1; b=; bh=xyz; d=example.com", Encoding.ASCII.GetString(DkimHeaderHashInput.RemoveSignatureValue(raw)));
    }

    [Theory]
    [InlineData("v=1; a=rsa-sha256; a=rsa-sha1", "duplicate tag")]
    [InlineData("v=1; 1a=x", "malformed tag name")]
    [InlineData("v=1; novalue", "malformed tag")]
    public void TagList_Malformed_IsRejected(string text, string error)
    {
        Assert.False(DkimTagList.TryParse(text, out _, out string? e));
        Assert.StartsWith(error, e);
    }

    [Fact]
    public void SignatureFields_IdentityOutsideDomain_IsRejected()
    {
        Assert.False(DkimSignatureFields.TryParse("v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA; i=@evil.example", false, out _, out string? error));
        Assert.Contains("i= domain", error);
    }

    [Fact]
    public void SignatureFields_FromNotSigned_IsRejected()
    {
        Assert.False(DkimSignatureFields.TryParse("v=1; a=rsa-sha256; d=example.com; s=s; h=subject; bh=AAAA; b=AAAA", false, out _, out string? error));
        Assert.Contains("From", error);
    }
}
