using ContentFilter.Pipeline.Verdicts;

namespace ContentFilter.Frontends.SmtpProxy;

/// <summary>Reply helpers for the proxy: formatting and coercion into the class an action demands.</summary>
internal static class ProxyReply
{
    /// <summary><c>250 2.0.0 text</c>, or <c>250 text</c> when the peer gave no enhanced code.</summary>
    public static string Format(Reply r) => string.IsNullOrEmpty(r.EnhancedCode) ? $"{r.Code} {r.Text}" : $"{r.Code} {r.EnhancedCode} {r.Text}";

    /// <summary>Makes sure a reply is of the class (2, 4 or 5) its action promises; a wrong class falls back to <paramref name="fallback"/>.</summary>
    /// <remarks>Invariant 1: a temporary failure must never become 5xx, and only delivered or discarded mail gets 2xx.</remarks>
    public static Reply Coerce(Reply? reply, int cls, Reply fallback)
    {
        if (reply is null || reply.Code / 100 != cls)
        {
            return fallback;
        }
        string enhanced = reply.EnhancedCode;
        if (string.IsNullOrEmpty(enhanced) || enhanced[0] - '0' != cls)
        {
            enhanced = fallback.EnhancedCode;
        }
        return reply with { EnhancedCode = enhanced };
    }

    /// <summary>The enhanced code of a next-hop reply if it has the given class, else <paramref name="fallback"/>.</summary>
    public static string EnhancedOr(Reply r, int cls, string fallback) =>
        !string.IsNullOrEmpty(r.EnhancedCode) && r.EnhancedCode[0] - '0' == cls ? r.EnhancedCode : fallback;
}
