using ContentFilter.Testing.Chaos;
using ContentFilter.Testing.Daemons;
using Xunit.Abstractions;

namespace ContentFilter.IntegrationTests.Reliability;

/// <summary>
/// The reduced chaos run (issue 8): 300 messages through front Postfix → contentfilter → next-hop Postfix → maildir,
/// with one SIGKILL of the filter mid-stream (restarted) and one outage of the next hop. The full run (5,000 messages
/// up to 5 MB, three kills, clamd and next-hop outages, a full spool disk) is <c>scripts/chaos</c>, same driver
/// (<c>--door milter</c> for the milter door, reduced here in the second test).
/// </summary>
public sealed class ChaosTests(ITestOutputHelper output)
{
    [SkippableFact]
    public async Task Chaos_300MessagesWithSigkillAndNextHopOutage_NoneLostNoneAlteredOnlyDocumentedDuplicates()
    {
        PostfixInstance.SkipUnlessAvailable();
        var options = new ChaosOptions
        {
            Messages = 300,
            MaxSize = 300 * 1024,
            Kills = 1,
            NextHopOutage = TimeSpan.FromSeconds(5),
        };

        ChaosReport report = await RunAsync(options);
        Assert.Equal(300, report.Accepted);
        Assert.Empty(report.Lost);
        Assert.Empty(report.Altered);
        Assert.DoesNotContain(report.Duplicates, d => d.Cause == ChaosDuplicateCause.Unexplained);
        Assert.Equal(300, report.Delivered);
        Assert.Equal(report.Delivered + report.DuplicateCopies, report.DeliveredFiles);
        // The faults really happened and were felt: two filter processes, and Postfix deferred mail at the filter.
        Assert.Equal(2, report.FilterStarts);
        Assert.Equal(2, report.Faults.Count);
        Assert.True(report.Deferrals.Values.Sum() > 0, "no deferral at the filter: the faults did not hit mail in flight\n" + report.ToMarkdown());
        Assert.True(report.Signed > 0 && report.EightBit > 0 && report.Spooled > 0, report.ToMarkdown());
    }

    /// <summary>
    /// The milter door under the same faults that matter before the queue: the milter SIGKILLed mid-stream
    /// (restarted) and clamd stopped, with Postfix's <c>milter_default_action = tempfail</c>. The sender gets 4xx
    /// and retries; whatever Postfix accepted was scanned, nothing is lost or duplicated, no EICAR gets through.
    /// </summary>
    [SkippableFact]
    public async Task Chaos_Milter_150MessagesWithSigkillAndClamdOutage_NoneLostNoneUnscannedNoVirusThrough()
    {
        PostfixInstance.SkipUnlessAvailable();
        Skip.IfNot(ClamdInstance.IsAvailable, "clamd not installed");
        var options = new ChaosOptions
        {
            Door = ChaosDoor.Milter,
            Messages = 150,
            MaxSize = 300 * 1024,
            Antivirus = true,
            VirusEvery = 25,
            Kills = 1,
            ClamdOutage = TimeSpan.FromSeconds(4),
            NextHopOutage = null,
        };

        ChaosReport report = await RunAsync(options);
        int viruses = Enumerable.Range(0, options.Messages).Count(i => i % options.VirusEvery == options.VirusEvery - 1);
        Assert.Equal(viruses, report.VirusesRejected);
        Assert.Equal(0, report.Viruses); // none was accepted: the milter rejects at end of data
        Assert.Equal(options.Messages - viruses, report.Accepted);
        Assert.Equal(report.Accepted, report.Delivered);
        Assert.Empty(report.Lost);
        Assert.Empty(report.Altered);
        Assert.Empty(report.Unscanned);
        Assert.Empty(report.Duplicates);
        Assert.Equal(report.Delivered, report.DeliveredFiles);
        // The faults really happened and were felt: two filter processes, and the sender got 4xx from Postfix.
        Assert.Equal(2, report.FilterStarts);
        Assert.Equal(2, report.Faults.Count);
        Assert.True(report.Refusals.Where(r => r.Key.StartsWith('4')).Sum(r => r.Value) > 0, "no 4xx to the sender: the faults did not hit mail in flight\n" + report.ToMarkdown());
        Assert.True(report.Signed > 0 && report.EightBit > 0 && report.Spooled > 0, report.ToMarkdown());
    }

    /// <summary>Runs the driver within 3 minutes (60 s of draining), logs its report and asserts that the run passed.</summary>
    private async Task<ChaosReport> RunAsync(ChaosOptions options)
    {
        options.RunTimeout = TimeSpan.FromMinutes(3);
        options.DrainTimeout = TimeSpan.FromSeconds(60);
        options.Log = output.WriteLine;
        ChaosReport report = await ChaosRun.RunAsync(options);
        output.WriteLine(report.ToMarkdown());
        Assert.True(report.Passed, string.Join("\n", report.Problems) + "\n" + report.ToMarkdown());
        return report;
    }
}
