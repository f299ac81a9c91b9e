using System.Text;
using ContentFilter.Checks.Dkim;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Protocols.Mime;

namespace ContentFilter.Checks.Tests.Dkim;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DkimSignerTests : IDisposable
{
    private readonly DkimTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    private DkimOptions Options(params DkimDomainKey[] keys)
    {
        var o = new DkimOptions();
        o.Sign.Enabled = true;
        o.Sign.Domains.AddRange(keys);
        return o;
    }

    [Theory]
    [InlineData(DkimAlgorithm.RsaSha256, "relaxed/relaxed")]
    [InlineData(DkimAlgorithm.RsaSha256, "simple/simple")]
    [InlineData(DkimAlgorithm.RsaSha256, "relaxed/simple")]
    [InlineData(DkimAlgorithm.Ed25519Sha256, "relaxed/relaxed")]
    [InlineData(DkimAlgorithm.Ed25519Sha256, "simple/relaxed")]
    public async Task Signer_OriginatingMail_VerifiesWithOurVerifier(DkimAlgorithm algorithm, string canonicalization)
    {
        string key = _kit.NewKey("example.com", "sel", algorithm);
        DkimOptions options = Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = key });
        options.Sign.Canonicalization = canonicalization;

        var (result, output, _) = await DkimTestKit.SignAsync(_kit.Signer(options), TestMessages.Crlf(DkimTestKit.SampleMessage));

        Assert.Equal(["sel:example.com"], Assert.IsType<DkimSignResult>(result).Signatures);
        AuthResult verified = await _kit.VerifyAsync(output);
        AuthMethodResult r = Assert.Single(verified.Results);
        Assert.Equal("pass", r.Result);
        Assert.Contains(r.Properties, p => p.Key == "header.d" && p.Value == "example.com");
        Assert.Contains(r.Properties, p => p.Key == "header.a" && p.Value == (algorithm == DkimAlgorithm.RsaSha256 ? "rsa-sha256" : "ed25519-sha256"));
    }

    [Fact]
    public async Task Signer_OnlyAddsOneFieldOnTop_RestIsByteIdentical()
    {
        string key = _kit.NewKey("example.com", "sel", DkimAlgorithm.Ed25519Sha256);
        byte[] message = TestMessages.Crlf(DkimTestKit.SampleMessage);

        var (_, output, verdict) = await DkimTestKit.SignAsync(_kit.Signer(Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = key })), message);

        HeaderEdit edit = Assert.Single(verdict.Edits);
        Assert.Equal("DKIM-Signature", edit.Name);
        Assert.StartsWith("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=sel;", Encoding.ASCII.GetString(output));
        Assert.True(output.AsSpan(output.Length - message.Length).SequenceEqual(message));
    }

    [Fact]
    public async Task Signer_SignsFinalHeaderView_WithEditsBeforeIt()
    {
        string key = _kit.NewKey("example.com", "sel", DkimAlgorithm.RsaSha256);
        DkimOptions options = Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = key });
        options.Sign.Canonicalization = "simple/simple";

        // Policy changed the Subject and added a field before signing: the signature must cover the result.
        var (_, output, _) = await DkimTestKit.SignAsync(_kit.Signer(options), TestMessages.Crlf(DkimTestKit.SampleMessage), edit: (h, e) =>
        {
            e.Add("X-Virus-Scanned", "ContentFilter");
            e.Change("Subject", 1, "[tagged] Hello there");
        });

        string text = Encoding.UTF8.GetString(output);
        Assert.Contains("Subject: [tagged] Hello there\r\n", text);
        Assert.Equal("pass", Assert.Single((await _kit.VerifyAsync(output)).Results).Result);
    }

    [Fact]
    public async Task Signer_OversignsFrom_AddedFromBreaksSignature()
    {
        string key = _kit.NewKey("example.com", "sel", DkimAlgorithm.RsaSha256);
        var (_, output, _) = await DkimTestKit.SignAsync(_kit.Signer(Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = key })), TestMessages.Crlf(DkimTestKit.SampleMessage));
        string signed = Encoding.UTF8.GetString(output);
        Assert.Matches(@"h=From:From:", signed.Replace("\r\n\t ", string.Empty));

        byte[] forged = Encoding.UTF8.GetBytes("From: mallory@evil.example\r\n" + signed);
        Assert.Equal("fail", Assert.Single((await _kit.VerifyAsync(forged)).Results).Result);
    }

    [Fact]
    public async Task Signer_InboundMail_IsNotSigned()
    {
        string key = _kit.NewKey("example.com", "sel", DkimAlgorithm.RsaSha256);
        var (result, _, verdict) = await DkimTestKit.SignAsync(_kit.Signer(Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = key })),
            TestMessages.Crlf(DkimTestKit.SampleMessage), MessageDirection.Inbound);
        Assert.Null(result);
        Assert.Empty(verdict.Edits);
    }

    [Fact]
    public async Task Signer_NoMatchingKey_PassesUnsignedWithNote()
    {
        string key = _kit.NewKey("other.example", "sel", DkimAlgorithm.RsaSha256);
        var (result, _, verdict) = await DkimTestKit.SignAsync(_kit.Signer(Options(new DkimDomainKey { Domain = "other.example", Selector = "sel", KeyFile = key })),
            TestMessages.Crlf(DkimTestKit.SampleMessage));
        Assert.NotNull(result);
        Assert.Equal(CheckStatus.Skipped, result.Status);
        Assert.Contains("alice@example.com", result.Detail);
        Assert.Empty(verdict.Edits);
    }

    [Fact]
    public async Task Signer_NoFrom_PassesUnsignedWithNote()
    {
        string key = _kit.NewKey("example.com", "sel", DkimAlgorithm.RsaSha256);
        var (result, _, verdict) = await DkimTestKit.SignAsync(_kit.Signer(Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = key })),
            TestMessages.Crlf("To: bob@example.net\r\nSubject: x\r\n\r\nbody\r\n"));
        Assert.Equal(CheckStatus.Skipped, result!.Status);
        Assert.Empty(verdict.Edits);
    }

    [Fact]
    public async Task Signer_UnsafeKeyPermissions_FailsAndValidationSaysWhy()
    {
        string key = _kit.NewKey("example.com", "sel", DkimAlgorithm.RsaSha256);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        DkimSigner signer = _kit.Signer(Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = key }));

        string error = Assert.Single(signer.ValidateKeys());
        Assert.Contains("group or others", error);
        Assert.Contains("0644", error);
        var (result, _, verdict) = await DkimTestKit.SignAsync(signer, TestMessages.Crlf(DkimTestKit.SampleMessage));
        Assert.Equal(CheckStatus.Failed, result!.Status);
        Assert.Empty(verdict.Edits);
    }

    [Fact]
    public async Task Signer_MissingKeyFile_IsFailedResult()
    {
        DkimSigner signer = _kit.Signer(Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = Path.Combine(_kit.Directory, "nope.private") }));
        var (result, _, _) = await DkimTestKit.SignAsync(signer, TestMessages.Crlf(DkimTestKit.SampleMessage));
        Assert.Equal(CheckStatus.Failed, result!.Status);
        Assert.Contains("does not exist", result.Detail);
    }

    [Fact]
    public async Task Signer_DualSigning_BothSignaturesPass()
    {
        string rsa = _kit.NewKey("example.com", "rsa", DkimAlgorithm.RsaSha256);
        string ed = _kit.NewKey("example.com", "ed", DkimAlgorithm.Ed25519Sha256);
        DkimOptions options = Options(
            new DkimDomainKey { Domain = "example.com", Selector = "rsa", KeyFile = rsa },
            new DkimDomainKey { Domain = "example.com", Selector = "ed", KeyFile = ed });
        options.Sign.MultipleSignatures = true;

        var (result, output, verdict) = await DkimTestKit.SignAsync(_kit.Signer(options), TestMessages.Crlf(DkimTestKit.SampleMessage));

        Assert.Equal(2, verdict.Edits.Count);
        Assert.Equal(["rsa:example.com", "ed:example.com"], Assert.IsType<DkimSignResult>(result).Signatures);
        AuthResult verified = await _kit.VerifyAsync(output);
        Assert.Equal(["pass", "pass"], verified.Results.Select(r => r.Result));
        Assert.Equal(["rsa", "ed"], verified.Results.Select(r => r.Properties.First(p => p.Key == "header.s").Value));
    }

    [Fact]
    public async Task Signer_OpenDkimTables_RefileWildcardAndPercent()
    {
        string key = _kit.NewKey("example.com", "mail", DkimAlgorithm.RsaSha256);
        string keyTable = Path.Combine(_kit.Directory, "KeyTable");
        string signingTable = Path.Combine(_kit.Directory, "SigningTable");
        File.WriteAllText(keyTable, $"# OpenDKIM KeyTable\nanykey  %:mail:{key}\n");
        File.WriteAllText(signingTable, "# OpenDKIM SigningTable\n*@example.com   anykey\n");
        var options = new DkimOptions();
        options.Sign.Enabled = true;
        options.Sign.KeyTable = keyTable;
        options.Sign.SigningTable = "refile:" + signingTable;

        var (result, output, _) = await DkimTestKit.SignAsync(_kit.Signer(options), TestMessages.Crlf(DkimTestKit.SampleMessage));

        // %: the From domain fills in d=, and the audit's dkim_new names it.
        Assert.Equal(["mail:example.com"], Assert.IsType<DkimSignResult>(result).Signatures);
        AuthMethodResult r = Assert.Single((await _kit.VerifyAsync(output)).Results);
        Assert.Equal("pass", r.Result);
        Assert.Contains(r.Properties, p => p.Key == "header.d" && p.Value == "example.com");
    }

    [Fact]
    public async Task Signer_LargeSpoolFileBody_SignsWithoutLoadingIt()
    {
        string key = _kit.NewKey("example.com", "sel", DkimAlgorithm.RsaSha256);
        var sb = new StringBuilder(DkimTestKit.SampleMessage);
        for (int i = 0; i < 40000; i++)
        {
            sb.Append("line ").Append(i).Append(" of a long body with  spaces \r\n");
        }
        byte[] message = Encoding.ASCII.GetBytes(sb.ToString());
        DkimSigner signer = _kit.Signer(Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = key }));

        await using MessageSpool spool = await TestMessages.SpoolAsync(message, threshold: 64 * 1024);
        Assert.NotNull(spool.FilePath);
        MessageContext context = TestMessages.Context(spool, MessageDirection.Originating);
        var verdict = new Pipeline.Verdicts.Verdict();
        Assert.IsType<DkimSignResult>(await signer.FinishAsync(context, verdict, CancellationToken.None));
        using var output = new MemoryStream();
        await OutgoingMessage.WriteAsync(spool, context.Headers, verdict.Edits, output, CancellationToken.None);
        Assert.Equal("pass", Assert.Single((await _kit.VerifyAsync(output.ToArray())).Results).Result);
    }

    [Fact]
    public async Task Signer_KeyFileReplaced_NewKeyUsedWithinRecheckInterval()
    {
        string path = _kit.NewKey("example.com", "sel", DkimAlgorithm.Ed25519Sha256);
        DkimSigner signer = _kit.Signer(Options(new DkimDomainKey { Domain = "example.com", Selector = "sel", KeyFile = path }));
        byte[] message = TestMessages.Crlf(DkimTestKit.SampleMessage);
        Assert.Equal("pass", Assert.Single((await _kit.VerifyAsync((await DkimTestKit.SignAsync(signer, message)).Output)).Results).Result);

        // Rotation: a new key in the same file (DNS still has the old record). The file's time is looked at once a
        // second at most, so a message signed at once still carries the old key; one a second later, the new one.
        Assert.Equal(path, _kit.NewKey("example.com", "sel", DkimAlgorithm.Ed25519Sha256, publish: false));
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
        Assert.Equal("pass", Assert.Single((await _kit.VerifyAsync((await DkimTestKit.SignAsync(signer, message)).Output)).Results).Result);
        _kit.Time.Advance(DkimKeyStore.RecheckInterval);
        Assert.Equal("fail", Assert.Single((await _kit.VerifyAsync((await DkimTestKit.SignAsync(signer, message)).Output)).Results).Result);

        // A key file that goes away: noticed at the next look, and the message is deferred rather than sent unsigned.
        File.Delete(path);
        _kit.Time.Advance(DkimKeyStore.RecheckInterval);
        CheckResult? failed = (await DkimTestKit.SignAsync(signer, message)).Result;
        Assert.Equal(CheckStatus.Failed, failed?.Status);
    }

    [Fact]
    public void SelectHeaders_CountsInstancesAnyCase_OversignsOnceMore_ConfiguredOrder()
    {
        List<HeaderField> fields = HeaderSectionReader.Read(TestMessages.Crlf("To: a@x.example\r\nfrom: b@y.example\r\nX-Other: 1\r\nTO: c@x.example\r\n"), 0, out _, out _);

        List<string> h = DkimSignatureBuilder.SelectHeaders(fields, ["From", "To", "Subject", "to", "Cc"], ["FROM", "Cc"]);

        // To twice (two present, any case), From once plus one over-signed, Cc absent but over-signed, Subject absent.
        Assert.Equal(["From", "From", "To", "To", "Cc"], h);
    }

    [Fact]
    public void FinalFields_AddedAndChangedFields_AreWrittenBytes()
    {
        var headers = new MessageHeaders(HeaderSectionReader.Read(TestMessages.Crlf("Subject:no-space\r\nFrom: a@b.example\r\n"), 0, out int consumed, out _), consumed, false);
        var edits = new HeaderEdits();
        edits.Add("X-Top", "1");

        var fields = DkimSigner.FinalFields(headers, edits);

        Assert.Equal(["X-Top: 1\r\n", "Subject:no-space\r\n", "From: a@b.example\r\n"], fields.Select(f => Encoding.ASCII.GetString(f.Raw.Span)));
    }
}
