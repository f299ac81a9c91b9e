using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using ContentFilter.Frontends.Milter;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.IntegrationTests.Milter;

/// <summary>Checks that stand in for clamd and SPF: a "virus" is a marker in the body, SPF always passes.</summary>
internal sealed class MarkerVirusCheck : ICheck
{
    public const string Marker = "X-FAKE-VIRUS-MARKER";

    /// <summary>Every spool the check read, as Latin-1 text (byte for byte).</summary>
    public ConcurrentQueue<string> Spools { get; } = new();

    public string Name => "clamav";

    public async ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(context.Spool.OpenRead(), Encoding.Latin1);
        string text = await reader.ReadToEndAsync(cancellationToken);
        Spools.Enqueue(text);
        return text.Contains(Marker, StringComparison.Ordinal)
            ? new VirusScanResult { Check = Name, Status = CheckStatus.Hit, Viruses = ["Fake-Test-Signature"] }
            : new VirusScanResult { Check = Name, Status = CheckStatus.Ok };
    }
}

internal sealed class PassingSpfCheck : ICheck
{
    public string Name => "spf";

    public ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult<CheckResult>(new AuthResult
        {
            Check = Name,
            Status = CheckStatus.Ok,
            Results = [new AuthMethodResult("spf", "pass", null, [new("smtp.mailfrom", context.Envelope.MailFromDomain)])],
        });
}

/// <summary>Defers every recipient starting with <c>grey</c>; passes the rest with postgrey's header.</summary>
internal sealed class PrefixGreylist : IGreylist
{
    public Task<GreylistDecision> CheckAsync(GreylistRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(request.Recipient.StartsWith("grey", StringComparison.Ordinal)
            ? new GreylistDecision(GreylistAction.Defer, "new", "4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/dest.test.html", null)
            : new GreylistDecision(GreylistAction.Pass, "triplet found", null, "X-Greylist: delayed 300 seconds by postgrey-1.37 at mx"));
}

internal sealed class QueueAuditSink : IAuditSink
{
    public ConcurrentQueue<AuditRecord> Records { get; } = new();

    public void Write(AuditRecord record) => Records.Enqueue(record);
}

/// <summary>A milter door on 127.0.0.1:free port with the fake checks and a real pipeline and policy.</summary>
internal sealed class MilterUnderTest : IAsyncDisposable
{
    private readonly MilterTcpHost _host;
    private readonly MarkerVirusCheck _virus = new();

    public MilterUnderTest(string authServId = "mx.example.org", VerdictPolicyOptions? policy = null, IGreylist? greylist = null)
    {
        SpoolDirectory = Directory.CreateTempSubdirectory("cf-milter-it-").FullName;
        var verdictPolicy = new VerdictPolicy(policy ?? new VerdictPolicyOptions { HostName = authServId, AuthServId = authServId, QuarantineBlocked = false });
        var pipeline = new CheckPipeline([_virus, new PassingSpfCheck()], [], () => verdictPolicy, TimeProvider.System, TimeSpan.FromSeconds(30), NullLogger<CheckPipeline>.Instance);
        var session = new MilterSession(new MilterOptions { GreylistAtRcpt = greylist is not null }, pipeline, new SpoolOptions { Directory = SpoolDirectory }, Audit, TimeProvider.System, NullLogger<MilterSession>.Instance, greylist: greylist);
        _host = new MilterTcpHost(session);
    }

    public int Port => _host.Port;

    public string SpoolDirectory { get; }

    public QueueAuditSink Audit { get; } = new();

    /// <summary>The spools the checks read, in order.</summary>
    public IReadOnlyCollection<string> Spools => _virus.Spools;

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        try
        {
            Directory.Delete(SpoolDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class RepoPaths
{
    public static string Root()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "ContentFilter.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? throw new DirectoryNotFoundException("ContentFilter.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Runs a program with a timeout and captures its output.</summary>
internal static class Run
{
    public static async Task<(int ExitCode, string Output)> ProcessAsync(string file, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + file);
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeout}: {await stdout} {await stderr}");
        }
        return (p.ExitCode, (await stdout) + (await stderr));
    }
}
