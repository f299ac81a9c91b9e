namespace ContentFilter.Checks.Spam;

/// <summary>spamd could not be used: unreachable, timed out, or its reply was not understood. Always temporary.</summary>
public sealed class SpamdException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SpamdException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public SpamdException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
