using ContentFilter.Fuzz.Targets;

namespace ContentFilter.Fuzz;

/// <summary>Every fuzz target by name. <c>testdata/fuzz/&lt;name&gt;/</c> holds its seed corpus.</summary>
public static class FuzzTargets
{
    /// <summary>All targets, in the order scripts/fuzz runs them.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("smtp-command", "SMTP command lines: SmtpCommandLineReader + SmtpCommandParser", SmtpCommandTarget.Run),
        new("smtp-data", "DATA: SmtpDataDecoder (unstuffing, CRLF.CRLF only) + SmtpDotStuffer round trip", SmtpDataTarget.Run),
        new("milter", "milter packets both ways: MilterPacketReader, MilterReplyReader, writers round trip", MilterTarget.Run),
        new("policy", "Postfix policy requests: PolicyRequestReader", PolicyTarget.Run),
        new("clamd", "clamd replies: ClamdReplyReader", ClamdTarget.Run),
        new("spamd", "spamd responses: SpamdResponseReader", SpamdTarget.Run),
        new("header-edit", "header editor: MessageSpool.ReadHeaders, HeaderEdits, OutgoingMessage.BuildPrefix", HeaderEditTarget.Run),
        new("mime-header", "header section codecs: HeaderSectionReader, HeaderField, HeaderEndDetector", MimeHeaderTarget.Run),
    ];

    /// <summary>The target named <paramref name="name"/>, or null.</summary>
    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
