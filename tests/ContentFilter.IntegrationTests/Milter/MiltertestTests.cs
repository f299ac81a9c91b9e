namespace ContentFilter.IntegrationTests.Milter;

/// <summary>Debian's <c>miltertest</c> (opendkim-tools) drives the milter door over TCP with Lua scripts.</summary>
public sealed class MiltertestTests
{
    private const string Miltertest = "/usr/bin/miltertest";

    private static async Task<string> RunScriptAsync(MilterUnderTest milter, string script)
    {
        string path = Path.Combine(RepoPaths.Root(), "testdata", "milter", "miltertest", script);
        (int exit, string output) = await Run.ProcessAsync(Miltertest, ["-D", "port=" + milter.Port, "-s", path], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"miltertest {script} exited {exit}: {output}");
        return output;
    }

    [SkippableFact]
    public async Task Miltertest_CleanMessage_ContinuedWithAuthenticationResultsInserted()
    {
        Skip.IfNot(File.Exists(Miltertest), "miltertest is not installed");
        await using var milter = new MilterUnderTest();

        string output = await RunScriptAsync(milter, "clean.lua");

        Assert.Contains("clean: ok", output);
        Assert.Contains("spf=pass smtp.mailfrom=example.com", output);
        var audit = Assert.Single(milter.Audit.Records);
        Assert.Equal("Passed", audit.Disposition);
        Assert.Equal("sender@example.com", audit.Sender);
        Assert.Equal("4AbCdE1234", audit.QueueId);
    }

    [SkippableFact]
    public async Task Miltertest_Virus_Rejected554()
    {
        Skip.IfNot(File.Exists(Miltertest), "miltertest is not installed");
        await using var milter = new MilterUnderTest();

        string output = await RunScriptAsync(milter, "virus.lua");

        Assert.Contains("virus: ok", output);
        var audit = Assert.Single(milter.Audit.Records);
        Assert.Equal("Blocked", audit.Disposition);
        Assert.Equal("INFECTED (Fake-Test-Signature)", audit.Category);
    }

    [SkippableFact]
    public async Task Miltertest_TwoMessagesOneConnection_BothContinuedAndAudited()
    {
        Skip.IfNot(File.Exists(Miltertest), "miltertest is not installed");
        await using var milter = new MilterUnderTest();

        string output = await RunScriptAsync(milter, "two-messages.lua");

        Assert.Contains("two-messages: ok", output);
        Assert.Equal(["sender1@example.com", "sender2@example.com"], milter.Audit.Records.Select(r => r.Sender));
        Assert.Empty(Directory.GetFiles(milter.SpoolDirectory));
    }
}
