namespace ContentFilter.Protocols.Clamd;

/// <summary>Why a clamd reply could not be read. Every one of these is a scanner failure, never "clean".</summary>
public enum ClamdError
{
    /// <summary>No error.</summary>
    None,

    /// <summary>No NUL terminator within <see cref="ClamdLimits.MaxReplyLength"/> bytes: not clamd, or hostile.</summary>
    ReplyTooLong,

    /// <summary>The line is none of <c>OK</c>, <c>FOUND</c>, <c>ERROR</c>, <c>PONG</c>, <c>ClamAV ...</c>.</summary>
    UnrecognizedReply,

    /// <summary>The connection ended inside a reply (bytes without the NUL terminator).</summary>
    TruncatedReply,
}
