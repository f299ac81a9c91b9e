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

    [Theory]
    [InlineData(DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Relaxed)]
    public void Body_SplitAtEveryOffset_SameHash(DkimCanonicalization c)
    {
        // Spool reads split where they like: a CR, a WSP run or a run of empty lines may straddle two chunks.
        byte[] body = Encoding.ASCII.GetBytes(" lead\t \r\n\r\nx  y\t\r\n\r \r\n  \r\n\r\nz\r\n\r\n \r\n");
        string whole = Body(Encoding.ASCII.GetString(body), c);
        for (int split = 0; split <= body.Length; split++)
        {
            using var hasher = new DkimBodyHasher(c, HashAlgorithmName.SHA256, null);
            hasher.Write(body.AsSpan(0, split));
            hasher.Write(body.AsSpan(split));
            Assert.Equal(whole, Convert.ToBase64String(hasher.Complete()));
        }
    }

    [Theory]
    [InlineData(DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Relaxed)]
    public void Body_RandomBodiesAndChunks_MatchTheRfcRules(DkimCanonicalization c)
    {
        // Differential: the streaming hasher (vectorised runs, buffered hash updates) against the RFC 6376 §3.4.3/§3.4.4
        // rules applied to the whole body at once, over bodies made of the bytes that matter, some past the hasher's
        // 16 KB buffer, fed in random chunks, with and without l= (which may end inside a buffered run).
        var random = new Random(6376);
        byte[] alphabet = "ab  \t\r\n\n"u8.ToArray();
        for (int round = 0; round < 400; round++)
        {
            int length = round % 20 == 0 ? random.Next(16 * 1024, 50 * 1024) : random.Next(0, 300);
            var body = new byte[length];
            for (int i = 0; i < length; i++)
            {
                // Mostly long content runs, as real mail, with every special byte in between.
                body[i] = random.Next(4) == 0 ? alphabet[random.Next(alphabet.Length)] : (byte)'x';
            }
            byte[] canonical = ReferenceBody(body, c);
            long? limit = round % 3 == 0 ? random.Next(0, canonical.Length + 2) : null;
            byte[] expected = limit is long l && l < canonical.Length ? canonical[..(int)l] : canonical;

            using var hasher = new DkimBodyHasher(c, HashAlgorithmName.SHA256, limit);
            for (int pos = 0; pos < body.Length;)
            {
                int n = Math.Min(body.Length - pos, random.Next(4) == 0 ? random.Next(1, 4) : random.Next(1, 70 * 1024));
                hasher.Write(body.AsSpan(pos, n));
                pos += n;
            }
            Assert.Equal(Convert.ToBase64String(SHA256.HashData(expected)), Convert.ToBase64String(hasher.Complete()));
            Assert.Equal(canonical.Length, hasher.CanonicalLength);
        }
    }

    [Theory]
    [InlineData(DkimCanonicalization.Simple)]
    [InlineData(DkimCanonicalization.Relaxed)]
    public void Body_RandomTextAndChunks_MatchTheRfcRules(DkimCanonicalization c)
    {
        // Differential, on text: words with single spaces and CRLF between them (hashed in one piece), now and then
        // a piece the hasher must stop at (double space, tab, trailing space, empty line, bare LF, lone CR, a line
        // that starts with white space), at every position of the 32-byte vector test and across chunk ends.
        var random = new Random(8463);
        string[] pieces = [" ", " ", " ", " ", "\r\n", "\r\n", "  ", "\t", " \r\n", "\r\n\r\n", "\n", "\r", "\r\n ", "\r\n\t", "\r\n\r\n\r\n"];
        for (int round = 0; round < 600; round++)
        {
            var text = new StringBuilder();
            int length = round % 25 == 0 ? random.Next(16 * 1024, 40 * 1024) : random.Next(0, 400);
            int rare = random.Next(2, 40);
            while (text.Length < length)
            {
                text.Append("abcdefghij.,"[..random.Next(1, 12)]);
                text.Append(pieces[random.Next(random.Next(rare) == 0 ? pieces.Length : 5)]);
            }
            byte[] body = Encoding.ASCII.GetBytes(text.ToString());
            byte[] canonical = ReferenceBody(body, c);

            using var hasher = new DkimBodyHasher(c, HashAlgorithmName.SHA256, null);
            for (int pos = 0; pos < body.Length;)
            {
                int n = Math.Min(body.Length - pos, random.Next(3) == 0 ? random.Next(1, 40) : random.Next(1, 70 * 1024));
                hasher.Write(body.AsSpan(pos, n));
                pos += n;
            }
            Assert.Equal(Convert.ToBase64String(SHA256.HashData(canonical)), Convert.ToBase64String(hasher.Complete()));
            Assert.Equal(canonical.Length, hasher.CanonicalLength);
        }
    }

    /// <summary>Body canonicalisation done the obvious way on the whole body: split into lines (CRLF or a bare LF; a lone CR is content), canonicalise each, drop trailing empty lines.</summary>
    private static byte[] ReferenceBody(byte[] body, DkimCanonicalization c)
    {
        var lines = new List<List<byte>>();
        var line = new List<byte>();
        for (int i = 0; i < body.Length; i++)
        {
            if (body[i] == (byte)'\n' || (body[i] == (byte)'\r' && i + 1 < body.Length && body[i + 1] == (byte)'\n'))
            {
                i += body[i] == (byte)'\r' ? 1 : 0;
                lines.Add(line);
                line = [];
                continue;
            }
            line.Add(body[i]);
        }
        if (line.Count > 0)
        {
            lines.Add(line); // a last line without a line end gets one
        }
        if (c == DkimCanonicalization.Relaxed)
        {
            lines = lines.Select(l =>
            {
                var reduced = new List<byte>();
                foreach (byte b in l)
                {
                    bool wsp = b is (byte)' ' or (byte)'\t';
                    if (wsp && reduced.Count > 0 && reduced[^1] == (byte)' ')
                    {
                        continue;
                    }
                    reduced.Add(wsp ? (byte)' ' : b);
                }
                while (reduced.Count > 0 && reduced[^1] == (byte)' ')
                {
                    reduced.RemoveAt(reduced.Count - 1);
                }
                return reduced;
            }).ToList();
        }
        while (lines.Count > 0 && lines[^1].Count == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }
        if (lines.Count == 0)
        {
            return c == DkimCanonicalization.Simple ? "\r\n"u8.ToArray() : [];
        }
        return lines.SelectMany(l => l.Concat("\r\n"u8.ToArray())).ToArray();
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
