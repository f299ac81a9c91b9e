using ContentFilter.Fuzz;
using SharpFuzz;

// ContentFilter.Fuzz <target>                 under afl-fuzz (SharpFuzz): one input per run from afl
// ContentFilter.Fuzz <target> FILE...         replays files through the target (reproduce a finding)
// ContentFilter.Fuzz --list                   the target names
if (args.Length == 0 || args[0] is "--list" or "-h" or "--help")
{
    Console.Out.WriteLine("usage: ContentFilter.Fuzz <target> [FILE...]   (no FILE: run under afl-fuzz)");
    foreach (FuzzTarget t in FuzzTargets.All)
    {
        Console.Out.WriteLine($"  {t.Name,-14} {t.Description}");
    }
    return args.Length == 0 ? 2 : 0;
}

FuzzTarget? target = FuzzTargets.Find(args[0]);
if (target is null)
{
    Console.Error.WriteLine($"ContentFilter.Fuzz: unknown target '{args[0]}' (--list shows them)");
    return 2;
}

if (args.Length > 1)
{
    int failed = 0;
    foreach (string file in args.Skip(1))
    {
        try
        {
            target.Run(File.ReadAllBytes(file));
            Console.Out.WriteLine($"ok    {file}");
        }
        catch (Exception e)
        {
            failed++;
            Console.Out.WriteLine($"CRASH {file}: {e.GetType().Name}: {e.Message}");
            Console.Out.WriteLine(e.StackTrace);
        }
    }
    return failed == 0 ? 0 : 1;
}

// Out of process: a hang (afl's -t) or an uncatchable crash (stack overflow) kills only the child, which SharpFuzz restarts.
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target.Run(buffer.ToArray());
});
return 0;
