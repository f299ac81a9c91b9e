namespace ContentFilter.Host;

/// <summary>Entry point of the <c>contentfilter</c> command.</summary>
public static class Program
{
    /// <summary>Runs the service or a subcommand.</summary>
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("contentfilter: not wired yet");
        return 1;
    }
}
