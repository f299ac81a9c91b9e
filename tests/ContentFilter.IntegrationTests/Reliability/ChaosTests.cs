using ContentFilter.Testing.Chaos;
using ContentFilter.Testing.Daemons;
using Xunit.Abstractions;

namespace ContentFilter.IntegrationTests.Reliability;

/// <summary>
/// The reduced chaos run (issue 8): 300 messages through front Postfix → contentfilter → next-hop Postfix → maildir,
/// with one SIGKILL of the filter mid-stream (restarted) and one outage of the next hop. The full run (5,000 messages
/// up to 5 MB, three kills, clamd and next-hop outages, a full spool disk) is <c>scripts/chaos</c>, same driver.
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
            RunTimeout = TimeSpan.FromMinutes(3),
            DrainTimeout = TimeSpan.FromSeconds(60),
            Log = output.WriteLine,
        };

        ChaosReport report = await ChaosRun.RunAsync(options);
        output.WriteLine(report.ToMarkdown());

        Assert.True(report.Passed, string.Join("\n", report.Problems) + "\n" + report.ToMarkdown());
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
}
