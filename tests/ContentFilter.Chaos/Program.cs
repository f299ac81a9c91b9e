using System.Globalization;
using ContentFilter.Testing.Chaos;

// The full chaos run of issue 8 (docs/chaos.md). Usage (scripts/chaos passes these through):
//   ContentFilter.Chaos [--door proxy|milter] [--messages N] [--max-size BYTES] [--kills N] [--outage SECONDS] [--timeout MINUTES] [--report FILE]
// Exit 0 when nothing was lost or altered and every duplicate has a documented cause, 1 otherwise, 2 on bad arguments.
var options = new ChaosOptions
{
    Messages = 5000,
    MinSize = 1024,
    MaxSize = 5 * 1024 * 1024,
    Sessions = 4,
    Kills = 3,
    DeadTime = TimeSpan.FromSeconds(2),
    Antivirus = true,
    VirusEvery = 100,
    ClamdOutage = TimeSpan.FromSeconds(30),
    NextHopOutage = TimeSpan.FromSeconds(30),
    SpoolTmpfsMegabytes = 128,
    SpoolFull = TimeSpan.FromSeconds(30),
    RetryDelay = "10s",
    MaximalBackoff = "60s",
    DrainTimeout = TimeSpan.FromMinutes(10),
    RunTimeout = TimeSpan.FromMinutes(45),
    Log = line => Console.Error.WriteLine(line),
};
string? reportFile = null;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        int Int() => int.Parse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture);
        switch (args[i])
        {
            case "--messages": options.Messages = Int(); break;
            case "--max-size": options.MaxSize = Int(); break;
            case "--kills": options.Kills = Int(); break;
            case "--outage":
                var outage = TimeSpan.FromSeconds(Int());
                options.ClamdOutage = options.NextHopOutage = options.SpoolFull = outage;
                break;
            case "--timeout": options.RunTimeout = TimeSpan.FromMinutes(Int()); break;
            case "--report": reportFile = Next(); break;
            case "--door":
                options.Door = Next() switch
                {
                    "proxy" => ChaosDoor.Proxy,
                    "milter" => ChaosDoor.Milter,
                    string other => throw new ArgumentException($"--door is proxy or milter, not {other}"),
                };
                break;
            default: throw new ArgumentException($"unknown argument {args[i]}");
        }
    }
    if (options.Messages < 10 || options.MaxSize < options.MinSize)
    {
        throw new ArgumentException("--messages must be at least 10 and --max-size at least 1024");
    }
}
catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine("chaos: " + ex.Message);
    return 2;
}

using var interrupted = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // stop the run, then clean up (Postfix masters, clamd, the tmpfs) on the way out
    interrupted.Cancel();
};
ChaosReport report;
try
{
    report = await ChaosRun.RunAsync(options, interrupted.Token);
}
catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
{
    Console.Error.WriteLine("chaos: interrupted");
    return 130;
}
string text = $"Machine: {Environment.MachineName}, {Environment.ProcessorCount} CPUs, {Environment.OSVersion}, .NET {Environment.Version}\n\n" + report.ToMarkdown();
Console.WriteLine(text);
if (reportFile is not null)
{
    await File.WriteAllTextAsync(reportFile, text);
}
return report.Passed ? 0 : 1;
