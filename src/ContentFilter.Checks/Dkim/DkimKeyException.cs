namespace ContentFilter.Checks.Dkim;

/// <summary>A signing key cannot be used: missing, unreadable, unsafe permissions, or not a key.</summary>
public sealed class DkimKeyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DkimKeyException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
