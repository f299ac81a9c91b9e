namespace ContentFilter.Protocols.Policy;

/// <summary>One policy reply: the action Postfix applies as if it came from an access(5) table.</summary>
/// <param name="Action">The action text, e.g. <c>DUNNO</c>, <c>DEFER_IF_PERMIT 4.2.0 Greylisted ...</c>, <c>PREPEND X-Greylist: ...</c>.</param>
public sealed record PolicyReply(string Action)
{
    /// <summary><c>DUNNO</c>: this server has no opinion; Postfix goes on with the next restriction.</summary>
    public static PolicyReply Dunno { get; } = new("DUNNO");

    /// <summary><c>DEFER_IF_PERMIT text</c>: 450 unless a later restriction rejects (access(5)).</summary>
    public static PolicyReply DeferIfPermit(string text) => new("DEFER_IF_PERMIT " + text);

    /// <summary><c>PREPEND header</c>: Postfix adds the header on top of the message (access(5)).</summary>
    public static PolicyReply Prepend(string header) => new("PREPEND " + header);
}
