namespace ContentFilter.Protocols.Spamd;

/// <summary>Why a spamd response could not be read. Each is a scanner failure.</summary>
public enum SpamdError
{
    /// <summary>No error.</summary>
    None,

    /// <summary>A line longer than <see cref="SpamdLimits.MaxLineLength"/>.</summary>
    LineTooLong,

    /// <summary>The first line is not <c>SPAMD/&lt;version&gt; &lt;code&gt; &lt;message&gt;</c>.</summary>
    BadStatusLine,

    /// <summary>A header line without a colon, or more than <see cref="SpamdLimits.MaxHeaders"/> of them.</summary>
    BadHeader,

    /// <summary>A <c>Spam:</c> header that is not <c>True|False|Yes|No ; score / threshold</c>.</summary>
    BadSpamHeader,

    /// <summary>A <c>Content-length</c> that is not a number, or larger than <see cref="SpamdLimits.MaxBodyLength"/>.</summary>
    BadContentLength,

    /// <summary>The connection ended before the response was complete.</summary>
    Truncated,
}
