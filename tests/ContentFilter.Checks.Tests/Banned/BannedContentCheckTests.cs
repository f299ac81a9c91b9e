using System.IO.Compression;
using System.Text;
using ContentFilter.Checks.Banned;
using ContentFilter.Checks.Tests.Antivirus;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Checks.Tests.Banned;

public class BannedContentCheckTests
{
    private static readonly BannedNameRules Rules = new(new BannedContentOptions());

    private static BannedContentCheck Check(BannedContentOptions? options = null) =>
        new(options ?? new BannedContentOptions(), NullLogger<BannedContentCheck>.Instance);

    private static async Task<BannedContentResult> RunAsync(string message, BannedContentOptions? options = null)
    {
        MessageContext context = await TestMessage.ContextAsync(message);
        await using MessageSpool spool = context.Spool;
        return (BannedContentResult)await Check(options).RunAsync(context, CancellationToken.None);
    }

    [Theory]
    [InlineData("run.exe", "extension .exe")]
    [InlineData("RUN.EXE", "extension .exe")]
    [InlineData("invoice.pdf.exe", "double extension .pdf.exe")]
    [InlineData("invoice.pdf      .exe", "double extension .pdf.exe")]
    [InlineData("invoice.exe .", "extension .exe")]
    [InlineData("invoice.exe   ", "extension .exe")]
    [InlineData("script.js", "extension .js")]
    [InlineData("shortcut.lnk", "extension .lnk")]
    [InlineData("disk.iso", "extension .iso")]
    [InlineData("dir\\sub/evil.scr", "extension .scr")]
    [InlineData("photo\u202Egpj.exe", "bidi override in name")]
    public void CheckName_BannedNames_Reason(string name, string reason)
    {
        Assert.Equal(reason, Rules.CheckName(name));
    }

    [Theory]
    [InlineData("report.pdf")]
    [InlineData("archive.zip")]
    [InlineData("exe")]
    [InlineData("notes.txt")]
    [InlineData("my.exe.txt")]
    [InlineData("")]
    [InlineData(null)]
    public void CheckName_HarmlessNames_Null(string? name)
    {
        Assert.Null(Rules.CheckName(name));
    }

    [Fact]
    public void Rules_ConfiguredListsAndRegex_ReplaceDefaults()
    {
        var rules = new BannedNameRules(new BannedContentOptions { Extensions = { "docm" }, FileNameRegexes = { "^secret-.*" }, MimeTypes = { "application/x-foo" } });
        Assert.Equal("extension .docm", rules.CheckName("a.docm"));
        Assert.Null(rules.CheckName("a.exe"));
        Assert.NotNull(rules.CheckName("Secret-plans.txt"));
        Assert.NotNull(rules.CheckType("application/X-FOO"));
        Assert.Null(rules.CheckType("application/x-msdownload"));
    }

    [Fact]
    public async Task Run_ExeAttachment_HitWithName()
    {
        BannedContentResult r = await RunAsync(TestMessage.WithAttachment("invoice.pdf.exe", Encoding.ASCII.GetBytes("harmless")));
        Assert.Equal(CheckStatus.Hit, r.Status);
        Assert.Equal(new[] { "invoice.pdf.exe" }, r.Offending);
        Assert.Contains("double extension", r.Detail);
    }

    [Fact]
    public async Task Run_Rfc2231EncodedName_DecodedAndBanned()
    {
        string msg = TestMessage.WithAttachment("x.txt", Encoding.ASCII.GetBytes("hello"))
            .Replace("Content-Disposition: attachment; filename=\"x.txt\"", "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf%2Eexe")
            .Replace("; name=\"x.txt\"", string.Empty);
        BannedContentResult r = await RunAsync(msg);
        Assert.Equal(new[] { "résumé.pdf.exe" }, r.Offending);
    }

    [Fact]
    public async Task Run_DeclaredExecutableTypeOnly_Banned()
    {
        BannedContentResult r = await RunAsync(TestMessage.WithAttachment("readme.txt", Encoding.ASCII.GetBytes("x"), "application/x-msdownload"));
        Assert.Equal(CheckStatus.Hit, r.Status);
        Assert.Contains("type application/x-msdownload", r.Detail);
    }

    [Fact]
    public async Task Run_MzContentWithInnocentName_Banned()
    {
        BannedContentResult r = await RunAsync(TestMessage.WithAttachment("holiday.jpg", Encoding.ASCII.GetBytes("MZ\x90\0rest of a PE file")));
        Assert.Equal(CheckStatus.Hit, r.Status);
        Assert.Contains("MZ", r.Detail);
    }

    [Fact]
    public async Task Run_CleanMessages_Ok()
    {
        Assert.Equal(CheckStatus.Ok, (await RunAsync(TestMessage.Clean())).Status);
        Assert.Equal(CheckStatus.Ok, (await RunAsync(TestMessage.WithAttachment("report.pdf", Encoding.ASCII.GetBytes("%PDF-1.4")))).Status);
    }

    [Fact]
    public async Task Run_ExeInsideNestedZip_BannedWithPath()
    {
        byte[] inner = Zip(("docs/run.exe", Encoding.ASCII.GetBytes("x")));
        byte[] outer = Zip(("readme.txt", Encoding.ASCII.GetBytes("hi")), ("inner.zip", inner));
        BannedContentResult r = await RunAsync(TestMessage.WithAttachment("files.zip", outer, "application/zip"));
        Assert.Equal(new[] { "files.zip/inner.zip/docs/run.exe" }, r.Offending);
    }

    [Fact]
    public async Task Run_ZipNestedPastDepth_NotOpenedNoteNoCrash()
    {
        byte[] z = Zip(("run.exe", new byte[1]));
        for (int i = 0; i < 6; i++)
        {
            z = Zip(($"level{i}.zip", z));
        }
        BannedContentResult r = await RunAsync(TestMessage.WithAttachment("deep.zip", z));
        Assert.Equal(CheckStatus.Ok, r.Status);
        Assert.Contains("nested deeper", r.Detail);
    }

    [Fact]
    public async Task Run_ZipBomb_StopsAtByteBudget()
    {
        // 64 MiB of zeros compress to ~64 KiB: past the 1 MiB budget the check stops reading.
        byte[] bomb = Zip(("zeros.zip", Zip(("zeros.bin", new byte[64 * 1024 * 1024]))));
        var options = new BannedContentOptions { MaxArchiveBytes = 1024 * 1024 };
        var started = System.Diagnostics.Stopwatch.StartNew();
        BannedContentResult r = await RunAsync(TestMessage.WithAttachment("bomb.zip", bomb), options);
        Assert.Equal(CheckStatus.Ok, r.Status);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Run_CorruptZipAndMalformedMime_ResultNotException()
    {
        BannedContentResult corrupt = await RunAsync(TestMessage.WithAttachment("broken.zip", Encoding.ASCII.GetBytes("PK\x03\x04 not really")));
        Assert.Equal(CheckStatus.Ok, corrupt.Status);
        Assert.Contains("not a readable zip", corrupt.Detail);

        string malformed = "Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: application/octet-stream; name=\"a.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n";
        BannedContentResult r = await RunAsync(malformed);
        Assert.Equal(CheckStatus.Hit, r.Status);
        Assert.Equal(new[] { "a.exe" }, r.Offending);
    }

    [Fact]
    public async Task Run_DeepMimeNesting_Bounded()
    {
        var sb = new StringBuilder("Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
        for (int i = 0; i < 200; i++)
        {
            sb.Append($"--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{i + 1}\"\r\n\r\n");
        }
        sb.Append("--b200\r\nContent-Type: text/plain; name=\"x.exe\"\r\n\r\nx\r\n");
        BannedContentResult r = await RunAsync(sb.ToString());
        Assert.NotEqual(CheckStatus.Failed, r.Status);
    }

    [Fact]
    public async Task Run_MorePartsThanTheLimit_StopsThereWithANote()
    {
        // Reading ends at MaxParts: what lies beyond is not looked at (and costs no memory).
        var sb = new StringBuilder("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
        for (int i = 0; i < 50; i++)
        {
            string name = i == 40 ? "late.exe" : $"p{i}.txt";
            sb.Append($"--b\r\nContent-Type: text/plain; name=\"{name}\"\r\n\r\nx\r\n");
        }
        sb.Append("--b--\r\n");
        BannedContentResult limited = await RunAsync(sb.ToString(), new BannedContentOptions { MaxParts = 10 });
        Assert.Equal(CheckStatus.Ok, limited.Status);
        Assert.Contains("more than 10 MIME parts", limited.Detail);

        BannedContentResult all = await RunAsync(sb.ToString());
        Assert.Equal(new[] { "late.exe" }, all.Offending);
    }

    [Fact]
    public async Task Run_ExeInAForwardedMessage_Banned()
    {
        string inner = TestMessage.WithAttachment("tool.scr", Encoding.ASCII.GetBytes("x"));
        string msg = "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            + "--outer\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--outer--\r\n";
        BannedContentResult r = await RunAsync(msg);
        Assert.Equal(new[] { "tool.scr" }, r.Offending);
    }

    [Theory]
    [InlineData("quoted-printable", "MZ=90=00=00rest")]
    [InlineData("base64", "TVqQAAMAAAAEAAAA")]
    [InlineData("7bit", "MZ rest")]
    public async Task Run_MzUnderAnyTransferEncoding_Banned(string encoding, string body)
    {
        string msg = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: image/jpeg; name=\"cat.jpg\"\r\n"
            + $"Content-Transfer-Encoding: {encoding}\r\n\r\n{body}\r\n--b--\r\n";
        BannedContentResult r = await RunAsync(msg);
        Assert.Equal(new[] { "cat.jpg" }, r.Offending);
        Assert.Contains("MZ", r.Detail);
    }

    [SkippableTheory]
    [InlineData("zip1.eml", true)]
    [InlineData("zip3.eml", true)]
    [InlineData("zip2.eml", false)]
    [InlineData("ziploop.eml", false)]
    public async Task Run_PymilterSamples_BannedOrNoCrash(string file, bool banned)
    {
        string path = Path.Combine(ContentFilter.Testing.Daemons.ClamdInstance.RepositoryRoot(), "..", "shared", "testsuites", "mime", "pymilter", file);
        if (!File.Exists(path))
        {
            path = "/work/shared/testsuites/mime/pymilter/" + file;
        }
        Skip.IfNot(File.Exists(path), "pymilter test messages not present");
        MessageContext context = await TestMessage.ContextAsync(await File.ReadAllBytesAsync(path));
        await using MessageSpool spool = context.Spool;

        var r = (BannedContentResult)await Check().RunAsync(context, CancellationToken.None);

        if (banned)
        {
            Assert.Equal(CheckStatus.Hit, r.Status);
            Assert.NotEmpty(r.Offending);
        }
        else
        {
            Assert.NotEqual(CheckStatus.Failed, r.Status);
        }
    }

    private static byte[] Zip(params (string Name, byte[] Content)[] entries)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach ((string name, byte[] content) in entries)
            {
                using Stream s = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
                s.Write(content);
            }
        }
        return ms.ToArray();
    }
}
