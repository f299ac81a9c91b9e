using System.Text.Json.Nodes;
using ContentFilter.Host.Logging;
using ContentFilter.Host.Tests.Reports;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.Host.Tests.Logging;

public sealed class AuditJsonFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cf-auditfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TwoWritersOnOneFile_ConcurrentAppends_EveryRecordWholeAndOnce()
    {
        // Two descriptors, as the service and the quarantine CLI (another process) have: with O_APPEND neither
        // overwrites the other's records.
        string path = Path.Combine(_dir, "audit.json");
        using var a = new AuditJsonFile(path);
        using var b = new AuditJsonFile(path);
        const int perWriter = 2000;
        Parallel.For(0, 2 * perWriter, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            AuditRecord r = AuditReportTests.Record(i, "Passed", "CLEAN", "RelayedInbound") with { MailId = $"m{i:00000}" };
            (i % 2 == 0 ? a : b).Append(AmavisLogLine.Format(r), r);
        });

        string[] lines = File.ReadAllLines(path);
        Assert.Equal(2 * perWriter, lines.Length);
        var ids = lines.Select(l => JsonNode.Parse(l)!["Audit"]!["MailId"]!.GetValue<string>()).ToHashSet();
        Assert.Equal(2 * perWriter, ids.Count);
    }

    [Fact]
    public void Line_IsClefWithTheRecord_FileIs0640()
    {
        string path = Path.Combine(_dir, "audit.json");
        AuditRecord r = AuditReportTests.Record(3, "Blocked", "INFECTED", "DiscardedInbound", quarantine: "q1") with { Rules = ["Eicar-Signature"] };
        using (var file = new AuditJsonFile(path))
        {
            file.Append("the line", r);
            file.Append("action=greylist", new GreylistAuditRecord { Time = r.Time, Action = "greylist", Reason = "new", ClientAddress = "192.0.2.1", DelaySeconds = 300 });
        }

        string[] lines = File.ReadAllLines(path);
        JsonObject ev = JsonNode.Parse(lines[0])!.AsObject();
        Assert.True(DateTimeOffset.TryParse(ev["@t"]!.GetValue<string>(), out _));
        Assert.Equal("{AuditLine:l} {@Audit}", ev["@mt"]!.GetValue<string>());
        Assert.Equal("the line", ev["AuditLine"]!.GetValue<string>());
        Assert.Equal("INFECTED", ev["Audit"]!["Category"]!.GetValue<string>());
        Assert.Equal("q1", ev["Audit"]!["QuarantineId"]!.GetValue<string>());
        Assert.Equal("Eicar-Signature", ev["Audit"]!["Rules"]![0]!.GetValue<string>());
        Assert.Equal(6.0, ev["Audit"]!["Timings"]!["clamav"]!.GetValue<double>());
        JsonObject grey = JsonNode.Parse(lines[1])!.AsObject();
        Assert.Equal("new", grey["Greylist"]!["Reason"]!.GetValue<string>());
        Assert.Equal(300, grey["Greylist"]!["DelaySeconds"]!.GetValue<double>());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path));
    }

    [Fact]
    public void QueuedGreylistRecords_BeyondTheQueueCapacity_AllWrittenWholeAndInOrderPerWriter()
    {
        string path = Path.Combine(_dir, "audit.json");
        const int writers = 3;
        int perWriter = AuditJsonFile.QueueCapacity;
        using (var file = new AuditJsonFile(path))
        {
            Parallel.For(0, writers, new ParallelOptions { MaxDegreeOfParallelism = writers }, w =>
            {
                for (int i = 0; i < perWriter; i++)
                {
                    file.Enqueue($"action=greylist, reason=new, sender=w{w}", new GreylistAuditRecord { Time = DateTimeOffset.UnixEpoch, Action = "greylist", Reason = "new", Sender = $"w{w}", Recipient = $"{i}" });
                }
            });
        }

        string[] lines = File.ReadAllLines(path);
        Assert.Equal(writers * perWriter, lines.Length);
        var next = new int[writers];
        foreach (string line in lines)
        {
            JsonObject ev = JsonNode.Parse(line)!.AsObject();
            Assert.Equal("{GreylistLine:l} {@Greylist}", ev["@mt"]!.GetValue<string>());
            int w = ev["Greylist"]!["Sender"]!.GetValue<string>()[1] - '0';
            Assert.Equal(next[w]++.ToString(System.Globalization.CultureInfo.InvariantCulture), ev["Greylist"]!["Recipient"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task QueuedGreylistRecord_ReachesTheFileWithoutDispose_StampedWhenQueued()
    {
        string path = Path.Combine(_dir, "audit.json");
        using var file = new AuditJsonFile(path);
        DateTimeOffset before = DateTimeOffset.UtcNow;

        file.Enqueue("action=pass, reason=triplet found", new GreylistAuditRecord { Time = DateTimeOffset.UnixEpoch, Action = "pass", Reason = "triplet found", DelaySeconds = 301 });

        await Poll.UntilAsync(() => File.Exists(path) && File.ReadAllText(path).EndsWith('\n'), TimeSpan.FromSeconds(10), "the queued record in the file");
        JsonObject ev = JsonNode.Parse(File.ReadAllLines(path).Single())!.AsObject();
        Assert.Equal("action=pass, reason=triplet found", ev["GreylistLine"]!.GetValue<string>());
        Assert.Equal(301, ev["Greylist"]!["DelaySeconds"]!.GetValue<double>());
        Assert.InRange(DateTimeOffset.Parse(ev["@t"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture), before, DateTimeOffset.UtcNow);
    }

    [SkippableFact]
    public async Task QueuedGreylistRecords_OnAFullDisk_ErrorReportedAndTheWriterCarriesOnWhenThereIsRoom()
    {
        Skip.IfNot(TmpfsMount.IsAvailable, "mounting a tmpfs needs root");
        await using TmpfsMount disk = await TmpfsMount.MountAsync(Path.Combine(_dir, "full"), 256);
        string path = Path.Combine(disk.Directory, "audit.json");
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using (var file = new AuditJsonFile(path, errors.Enqueue))
        {
            disk.FillToTheLastByte();
            file.Enqueue("action=greylist, reason=new, sender=lost", new GreylistAuditRecord { Time = DateTimeOffset.UnixEpoch, Action = "greylist", Reason = "new", Sender = "lost" });
            await Poll.UntilAsync(() => !errors.IsEmpty, TimeSpan.FromSeconds(10), "the writer to report the full disk");

            disk.Free();
            file.Enqueue("action=pass, reason=triplet found, sender=kept", new GreylistAuditRecord { Time = DateTimeOffset.UnixEpoch, Action = "pass", Reason = "triplet found", Sender = "kept" });
            await Poll.UntilAsync(() => File.ReadAllText(path).Contains("sender=kept", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the next record after the disk has room");
        }

        Assert.IsAssignableFrom<IOException>(errors.First());
        string line = Assert.Single(File.ReadAllLines(path));
        Assert.Equal("kept", JsonNode.Parse(line)!["Greylist"]!["Sender"]!.GetValue<string>());
    }

    [Fact]
    public void CopyTruncate_NextRecordStartsTheFile_NoHole()
    {
        string path = Path.Combine(_dir, "audit.json");
        using var file = new AuditJsonFile(path);
        AuditRecord r = AuditReportTests.Record(1, "Passed", "CLEAN", "RelayedInbound");
        file.Append("first", r);
        file.Append("second", r);
        // logrotate copytruncate: copy, then truncate the live file under the writer.
        File.Copy(path, path + ".1");
        using (var truncate = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            truncate.SetLength(0);
        }
        file.Append("third", r);

        byte[] bytes = File.ReadAllBytes(path);
        Assert.DoesNotContain((byte)0, bytes);
        Assert.Equal("third", JsonNode.Parse(File.ReadAllLines(path).Single())!["AuditLine"]!.GetValue<string>());
        Assert.Equal(2, File.ReadAllLines(path + ".1").Length);
    }

    [Fact]
    public void UnwritablePath_ClearError()
    {
        var ex = Assert.Throws<IOException>(() => new AuditJsonFile(Path.Combine(_dir, "missing-dir", "audit.json")));
        Assert.Contains("missing-dir", ex.Message, StringComparison.Ordinal);
        Assert.Contains("cannot open", ex.Message, StringComparison.Ordinal);
    }
}
