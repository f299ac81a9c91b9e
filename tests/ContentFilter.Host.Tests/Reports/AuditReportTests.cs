using System.IO.Compression;
using System.Text.Json.Nodes;
using ContentFilter.Host.Logging;
using ContentFilter.Host.Reports;
using ContentFilter.Pipeline.Audit;

namespace ContentFilter.Host.Tests.Reports;

public sealed class AuditReportTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 6, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("cf-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static AuditRecord Record(int i, string disposition, string category, string action, double? hits = null, string sender = "a@example.org", string? quarantine = null, string? reason = null) => new()
    {
        Time = T0.AddMinutes(i),
        MailId = $"mailid{i:000000}",
        Listener = "inbound",
        Door = "smtp",
        Disposition = disposition,
        Category = category,
        Action = action,
        ClientAddress = "203.0.113.9",
        ClientPort = 41532,
        Sender = sender,
        Recipients = new[] { "b@example.net" },
        QueueId = "3Hq1Z4bK9f",
        MessageId = $"<x{i}@example.org>",
        Hits = hits,
        Size = 1000 + i,
        QueuedAs = disposition == "Passed" ? "4Kd7L0pQ2s" : null,
        QuarantineId = quarantine,
        Reason = reason,
        ElapsedMs = 10 * (i + 1),
        Timings = new Dictionary<string, double> { ["receive"] = i, ["clamav"] = 2 * i },
    };

    internal static IEnumerable<AuditRecord> Day() => new[]
    {
        Record(0, "Passed", "CLEAN", "RelayedInbound", 1.2),
        Record(1, "Passed", "CLEAN", "RelayedInbound", -0.5),
        Record(2, "Blocked", "INFECTED (Eicar-Test-Signature)", "DiscardedInbound,Quarantined", null, quarantine: "mailid000002"),
        Record(3, "Blocked", "SPAM", "DiscardedInbound,Quarantined", 1000, sender: "spammer@example.com", quarantine: "mailid000003"),
        Record(4, "Passed", "SPAMMY", "RelayedTaggedInbound", 7.1, sender: "spammer@example.com"),
        Record(5, "Blocked", "UNCHECKED", "TempFailedInbound", null, reason: "clamav failed: connection refused"),
        Record(6, "Blocked", "BANNED (invoice.pdf.exe)", "DiscardedInbound,Quarantined", null, quarantine: "mailid000006"),
    };

    private string WriteThroughSink(IEnumerable<AuditRecord> records, string name = "audit.json")
    {
        string path = Path.Combine(_dir, name);
        using (var sink = new SerilogAuditSink(new Serilog.LoggerConfiguration().CreateLogger(), path))
        {
            foreach (AuditRecord r in records)
            {
                sink.Write(r);
            }
            sink.WriteGreylist(new GreylistAuditRecord { Time = T0, Action = "greylist", Reason = "new", ClientAddress = "203.0.113.9", Sender = "a@example.org", Recipient = "b@example.net" });
            sink.WriteGreylist(new GreylistAuditRecord { Time = T0.AddMinutes(6), Action = "pass", Reason = "triplet found", ClientAddress = "203.0.113.9", Sender = "a@example.org", Recipient = "b@example.net", DelaySeconds = 360 });
        }
        return path;
    }

    [Fact]
    public void Report_RecordsWrittenBySink_AreCountedByVerdict()
    {
        var report = new AuditReport();
        report.AddFile(WriteThroughSink(Day()), null, null);

        JsonObject json = JsonNode.Parse(report.ToJson())!.AsObject();
        Assert.Equal(7, (int)json["messages"]!);
        Assert.Equal(2, (int)json["verdicts"]!["Passed CLEAN"]!);
        Assert.Equal(1, (int)json["verdicts"]!["Blocked INFECTED"]!);
        Assert.Equal(1, (int)json["viruses"]!["Eicar-Test-Signature"]!);
        Assert.Equal(1, (int)json["banned"]!["invoice.pdf.exe"]!);
        Assert.Equal(3, (int)json["quarantined"]!);
        Assert.Equal("spammer@example.com", (string)json["spamSenders"]![0]!["sender"]!);
        Assert.Equal(2, (int)json["spamSenders"]![0]!["count"]!);
        Assert.Equal(1, (int)json["greylist"]!["greylist: new"]!);
        Assert.Equal(1, (int)json["greylist"]!["pass: triplet found"]!);
        Assert.Equal(1, (int)json["tempFailures"]!["clamav failed: connection refused"]!);
        Assert.Equal(7, (int)json["stages"]!["clamav"]!["count"]!);
        Assert.Equal(12.0, (double)json["stages"]!["clamav"]!["max"]!);
    }

    [Fact]
    public void Report_SinceUntil_SelectsTheWindow()
    {
        var report = new AuditReport();
        report.AddFile(WriteThroughSink(Day()), T0.AddMinutes(2), T0.AddMinutes(4));
        Assert.Equal(2, report.Messages);
    }

    [Fact]
    public void Report_GzippedRotatedFile_IsRead()
    {
        string plain = WriteThroughSink(Day());
        string gz = plain + ".1.gz";
        using (FileStream input = File.OpenRead(plain))
        using (var output = new GZipStream(File.Create(gz), CompressionLevel.Fastest))
        {
            input.CopyTo(output);
        }
        var report = new AuditReport();
        report.AddFile(gz, null, null);
        Assert.Equal(7, report.Messages);
    }

    [Fact]
    public void Report_GarbageLines_AreSkippedNotFatal()
    {
        var report = new AuditReport();
        report.AddLine("not json", null, null);
        report.AddLine("{\"@t\":\"2026-11-24T00:00:00Z\",\"@mt\":\"other event\"}", null, null);
        report.AddLine("[1,2,3]", null, null);
        Assert.Equal(0, report.Messages);
        Assert.Equal(3, report.Skipped);
    }

    [Fact]
    public void Report_FixedAuditFile_MatchesExpectedText()
    {
        string dir = Path.Combine(RepoRoot(), "testdata", "audit");
        var report = new AuditReport();
        report.AddFile(Path.Combine(dir, "audit-sample.json"), null, null);
        string expected = File.ReadAllText(Path.Combine(dir, "audit-sample.report.txt"));
        Assert.Equal(expected, report.ToText());
    }

    [Fact]
    public void AmavisLine_HasTheFieldsAdminsGrep()
    {
        string line = AmavisLogLine.Format(Record(0, "Passed", "CLEAN", "RelayedInbound", 1.2));
        Assert.Equal("Passed CLEAN {RelayedInbound}, [203.0.113.9]:41532 <a@example.org> -> <b@example.net>, Queue-ID: 3Hq1Z4bK9f, Message-ID: <x0@example.org>, mail_id: mailid000000, Hits: 1.2, size: 1000, queued_as: 4Kd7L0pQ2s, 10 ms", line);
    }

    internal static string RepoRoot()
    {
        DirectoryInfo? dir = new(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ContentFilter.sln")))
        {
            dir = dir.Parent;
        }
        return dir!.FullName;
    }
}
