namespace ContentFilter.Fuzz;

/// <summary>One fuzz target: a codec driven with arbitrary bytes, plus the invariants it must keep.</summary>
/// <param name="Name">The name given on the command line and used for <c>testdata/fuzz/&lt;name&gt;/</c>.</param>
/// <param name="Description">What the target drives (for <c>--list</c>).</param>
/// <param name="Run">Runs the input; returns normally, or throws: any exception escaping is a finding.</param>
/// <remarks>
/// A target catches only the exceptions its codec documents; everything else escapes and afl-fuzz records a crash.
/// Broken invariants (DATA ended somewhere other than CRLF.CRLF, an untouched header byte changed, a different
/// result when the same bytes arrive in other pieces) throw <see cref="FuzzInvariantException"/>.
/// </remarks>
public sealed record FuzzTarget(string Name, string Description, Action<byte[]> Run);

/// <summary>A codec broke one of the invariants its target checks.</summary>
public sealed class FuzzInvariantException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FuzzInvariantException(string message)
        : base(message)
    {
    }

    /// <summary>Throws when <paramref name="condition"/> is false.</summary>
    public static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(message);
        }
    }
}
