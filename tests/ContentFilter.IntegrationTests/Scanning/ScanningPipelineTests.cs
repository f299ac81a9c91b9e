using System.Text;
using ContentFilter.Checks.Antivirus;
using ContentFilter.Checks.Banned;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Quarantine;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Testing.Daemons;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.IntegrationTests.Scanning;

/// <summary>The one pipeline with the real clamd, the banned check, the policy and the quarantine together
/// (the Postfix-level tests need the proxy front door; see the scan branch report).</summary>
public sealed class ScanningPipelineTests : IDisposable
{
    private const string Eicar = @"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    private readonly string _dir = Directory.CreateTempSubdirectory("cf-scan-it-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Attachment(string name, string content) =>
        "From: a@example.org\r\nTo: b@example.net\r\nSubject: s\r\nMessage-ID: <i@example.org>\r\nMIME-Version: 1.0\r\n" +
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n" +
        $"Content-Type: application/octet-stream; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
        Convert.ToBase64String(Encoding.ASCII.GetBytes(content)) + "\r\n--b--\r\n";

    private async Task<(Verdict Verdict, MessageContext Context)> RunAsync(string clamd, string message, FrontDoor door)
    {
        var av = new ClamAvOptions { Servers = { clamd }, Timeout = TimeSpan.FromSeconds(5), ConnectTimeout = TimeSpan.FromSeconds(2) };
        ICheck[] checks =
        {
            new ClamAvCheck(new ClamdClient(av, TimeProvider.System, NullLogger<ClamdClient>.Instance), av),
            new BannedContentCheck(new BannedContentOptions(), NullLogger<BannedContentCheck>.Instance),
        };
        var policy = new VerdictPolicy(new VerdictPolicyOptions { HostName = "mx.test" });
        var pipeline = new CheckPipeline(checks, Array.Empty<IMessageFinisher>(), () => policy, TimeProvider.System, TimeSpan.FromSeconds(30), NullLogger<CheckPipeline>.Instance);
        var spool = new MessageSpool(new SpoolOptions { Directory = Path.Combine(_dir, "spool"), InMemoryThreshold = 64 }, MailId.New());
        await spool.WriteAsync(Encoding.ASCII.GetBytes(message), CancellationToken.None);
        await spool.CompleteAsync(CancellationToken.None);
        var envelope = new Envelope { MailFrom = "a@example.org" };
        envelope.Recipients.Add(new EnvelopeRecipient("b@example.net", Array.Empty<string>()));
        var context = new MessageContext(MailId.New(), envelope, spool, spool.ReadHeaders(65536), ListenerPolicy.DefaultInbound, door, DateTimeOffset.UtcNow);
        Verdict verdict = await pipeline.RunAsync(context, CancellationToken.None);
        if (verdict.Quarantine)
        {
            var store = new FileQuarantineStore(new QuarantineOptions { Directory = Path.Combine(_dir, "q") }, TimeProvider.System, NullLogger<FileQuarantineStore>.Instance);
            verdict.QuarantineId = await store.StoreAsync(context, verdict, CancellationToken.None);
        }
        return (verdict, context);
    }

    [SkippableFact]
    public async Task Pipeline_EicarThroughRealClamd_DiscardedAndQuarantinedInProxyRejectedInMilter()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();

        (Verdict proxy, MessageContext ctx) = await RunAsync(clamd.UnixAddress, Attachment("eicar.txt", Eicar), FrontDoor.Smtp);
        (Verdict milter, _) = await RunAsync(clamd.TcpAddress, Attachment("eicar.txt", Eicar), FrontDoor.Milter);

        Assert.Equal(VerdictAction.Discard, proxy.Action);
        Assert.StartsWith("INFECTED (ContentFilter-Test-EICAR", proxy.CategoryText);
        Assert.Equal(250, proxy.Reply!.Code);
        Assert.True(File.Exists(Path.Combine(_dir, "q", proxy.QuarantineId + ".eml")));
        Assert.True(ctx.Timings.ContainsKey("clamav"));
        Assert.Equal(VerdictAction.Reject, milter.Action);
        Assert.Equal("554 5.7.1", $"{milter.Reply!.Code} {milter.Reply.EnhancedCode}");
    }

    [SkippableFact]
    public async Task Pipeline_CleanThenClamdStopped_DeliveredThenTempFail()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();

        (Verdict clean, _) = await RunAsync(clamd.UnixAddress, Attachment("report.pdf", "%PDF-1.4 hello"), FrontDoor.Smtp);
        await clamd.StopAsync();
        (Verdict down, _) = await RunAsync(clamd.UnixAddress, Attachment("report.pdf", "%PDF-1.4 hello"), FrontDoor.Smtp);
        await clamd.RestartAsync();
        (Verdict back, _) = await RunAsync(clamd.UnixAddress, Attachment("report.pdf", "%PDF-1.4 hello"), FrontDoor.Smtp);

        Assert.Equal(VerdictAction.Deliver, clean.Action);
        Assert.Contains(new HeaderEdit.Add("X-Virus-Scanned", "ContentFilter at mx.test"), clean.Edits);
        Assert.Equal(VerdictAction.TempFail, down.Action);
        Assert.Equal(451, down.Reply!.Code);
        Assert.Equal(VerdictAction.Deliver, back.Action);
    }

    [SkippableFact]
    public async Task Pipeline_BannedExeWithCleanClamd_BannedDiscarded()
    {
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        await using ClamdInstance clamd = await ClamdInstance.StartAsync();

        (Verdict v, _) = await RunAsync(clamd.UnixAddress, Attachment("invoice.pdf.exe", "harmless"), FrontDoor.Smtp);

        Assert.Equal(VerdictAction.Discard, v.Action);
        Assert.Equal("BANNED (invoice.pdf.exe)", v.CategoryText);
    }
}
