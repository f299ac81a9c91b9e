using System.Text;
using ContentFilter.Checks.Arc;
using ContentFilter.Checks.Dkim;
using ContentFilter.Checks.Tests.Dkim;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Checks.Tests.Arc;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ArcSealerTests : IDisposable
{
    private readonly DkimTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    private ArcSealer Sealer(string keyFile) => new(
        new ArcOptions { Seal = [new ArcSealDomain { Domain = "lists.example.org", Selector = "arc", KeyFile = keyFile, ForwardingDomains = ["lists.example.org"] }] },
        "mx.lists.example.org", _kit.Dns, _kit.Time, NullLogger<ArcSealer>.Instance);

    private async Task<(CheckResult? Result, byte[] Output, Verdict Verdict)> SealAsync(ArcSealer sealer, byte[] message, string recipient, params CheckResult[] earlier)
    {
        await using MessageSpool spool = await TestMessages.SpoolAsync(message);
        MessageContext context = TestMessages.Context(spool);
        context.Envelope.Recipients.Add(new EnvelopeRecipient(recipient, []));
        foreach (CheckResult r in earlier)
        {
            context.AddResult(r);
        }
        var verdict = new Verdict();
        CheckResult? result = await sealer.FinishAsync(context, verdict, CancellationToken.None);
        using var output = new MemoryStream();
        await OutgoingMessage.WriteAsync(spool, context.Headers, verdict.Edits, output, CancellationToken.None);
        return (result, output.ToArray(), verdict);
    }

    private async Task<AuthMethodResult> VerifyAsync(byte[] message)
    {
        var check = new ArcVerifyCheck(new ArcOptions(), _kit.Dns, NullLogger<ArcVerifyCheck>.Instance);
        await using MessageSpool spool = await TestMessages.SpoolAsync(message);
        return Assert.Single(((AuthResult)await check.RunAsync(TestMessages.Context(spool), CancellationToken.None)).Results);
    }

    [Fact]
    public async Task Sealer_ForwardedMail_ChainOfTwoValidates()
    {
        string key = _kit.NewKey("lists.example.org", "arc", DkimAlgorithm.RsaSha256, 2048);
        ArcSealer sealer = Sealer(key);
        var dkim = new AuthResult { Check = "dkim", Status = CheckStatus.Ok, Results = [new AuthMethodResult("dkim", "pass", null, [new("header.d", "example.com")])] };

        var (r1, once, v1) = await SealAsync(sealer, TestMessages.Crlf(DkimTestKit.SampleMessage), "list@lists.example.org", dkim);
        Assert.Null(r1);
        Assert.Equal(["ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"], v1.Edits.Select(e => e.Name));
        Assert.Equal("pass", (await VerifyAsync(once)).Result);
        Assert.Contains("cv=none", Encoding.ASCII.GetString(once));

        // A second hop seals again: cv=pass from its own validation, and the chain of two validates.
        var (r2, twice, _) = await SealAsync(sealer, once, "other@lists.example.org");
        Assert.Null(r2);
        string text = Encoding.ASCII.GetString(twice);
        Assert.Contains("i=2;", text);
        Assert.Contains("cv=pass", text);
        Assert.Equal("pass", (await VerifyAsync(twice)).Result);

        // Changing the body after sealing breaks the newest AMS.
        byte[] changed = Encoding.ASCII.GetBytes(text.Replace("tomorrow", "today"));
        Assert.Equal("fail", (await VerifyAsync(changed)).Result);
    }

    [Fact]
    public async Task Sealer_NotForwarded_DoesNothing()
    {
        string key = _kit.NewKey("lists.example.org", "arc", DkimAlgorithm.RsaSha256);
        var (result, _, verdict) = await SealAsync(Sealer(key), TestMessages.Crlf(DkimTestKit.SampleMessage), "bob@example.net");
        Assert.Null(result);
        Assert.Empty(verdict.Edits);
    }

    [Fact]
    public async Task Sealer_UnsafeKey_Fails()
    {
        string key = _kit.NewKey("lists.example.org", "arc", DkimAlgorithm.RsaSha256);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        ArcSealer sealer = Sealer(key);
        Assert.Single(sealer.ValidateKeys());
        var (result, _, verdict) = await SealAsync(sealer, TestMessages.Crlf(DkimTestKit.SampleMessage), "list@lists.example.org");
        Assert.Equal(CheckStatus.Failed, result!.Status);
        Assert.Empty(verdict.Edits);
    }

    [Fact]
    public async Task Verify_NoArcFields_IsNone()
    {
        Assert.Equal("none", (await VerifyAsync(TestMessages.Crlf(DkimTestKit.SampleMessage))).Result);
    }
}
