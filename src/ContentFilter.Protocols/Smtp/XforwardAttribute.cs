namespace ContentFilter.Protocols.Smtp;

/// <summary>One XFORWARD attribute (XFORWARD_README): upper-cased name and decoded value.</summary>
/// <param name="Name"><c>NAME</c>, <c>ADDR</c>, <c>PORT</c>, <c>PROTO</c>, <c>HELO</c>, <c>IDENT</c> or <c>SOURCE</c>.</param>
/// <param name="Value">The xtext-decoded value; <c>null</c> for <c>[UNAVAILABLE]</c>. For <c>ADDR</c> the <c>IPV6:</c> prefix is removed.</param>
public sealed record XforwardAttribute(string Name, string? Value)
{
    /// <summary>The attribute names we advertise and accept, in the order of the EHLO keyword line.</summary>
    public static IReadOnlyList<string> Supported { get; } = new[] { "NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE" };
}
