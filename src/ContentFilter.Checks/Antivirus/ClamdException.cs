namespace ContentFilter.Checks.Antivirus;

/// <summary>clamd could not be used: unreachable, timed out, or its reply was not understood. Always temporary.</summary>
public sealed class ClamdException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClamdException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ClamdException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
