namespace ContentFilter.Protocols.Milter;

/// <summary>Protocol steps the filter does not want, or does not answer (libmilter <c>SMFIP_*</c>).</summary>
/// <remarks>
/// <c>NO*</c> suppresses an event (its MACRO packet still comes); <c>NR_*</c> means the filter sends no reply to that
/// event, which saves a round trip per header and body chunk. Only bits the MTA offered may be set.
/// </remarks>
[Flags]
public enum MilterProtocol : uint
{
    /// <summary>Nothing suppressed.</summary>
    None = 0,

    /// <summary><c>SMFIP_NOCONNECT</c>.</summary>
    NoConnect = 0x1,

    /// <summary><c>SMFIP_NOHELO</c>.</summary>
    NoHelo = 0x2,

    /// <summary><c>SMFIP_NOMAIL</c>.</summary>
    NoMail = 0x4,

    /// <summary><c>SMFIP_NORCPT</c>.</summary>
    NoRcpt = 0x8,

    /// <summary><c>SMFIP_NOBODY</c>.</summary>
    NoBody = 0x10,

    /// <summary><c>SMFIP_NOHDRS</c>.</summary>
    NoHeaders = 0x20,

    /// <summary><c>SMFIP_NOEOH</c>.</summary>
    NoEndOfHeaders = 0x40,

    /// <summary><c>SMFIP_NR_HDR</c> (also <c>SMFIP_NOHREPL</c>): no reply to HEADER.</summary>
    NoReplyHeader = 0x80,

    /// <summary><c>SMFIP_NOUNKNOWN</c>.</summary>
    NoUnknown = 0x100,

    /// <summary><c>SMFIP_NODATA</c>.</summary>
    NoData = 0x200,

    /// <summary><c>SMFIP_SKIP</c>: the MTA understands <c>SMFIR_SKIP</c>.</summary>
    Skip = 0x400,

    /// <summary><c>SMFIP_RCPT_REJ</c>: also send recipients the MTA rejected.</summary>
    RcptRejected = 0x800,

    /// <summary><c>SMFIP_NR_CONN</c>.</summary>
    NoReplyConnect = 0x1000,

    /// <summary><c>SMFIP_NR_HELO</c>.</summary>
    NoReplyHelo = 0x2000,

    /// <summary><c>SMFIP_NR_MAIL</c>.</summary>
    NoReplyMail = 0x4000,

    /// <summary><c>SMFIP_NR_RCPT</c>.</summary>
    NoReplyRcpt = 0x8000,

    /// <summary><c>SMFIP_NR_DATA</c>.</summary>
    NoReplyData = 0x10000,

    /// <summary><c>SMFIP_NR_UNKN</c>.</summary>
    NoReplyUnknown = 0x20000,

    /// <summary><c>SMFIP_NR_EOH</c>.</summary>
    NoReplyEndOfHeaders = 0x40000,

    /// <summary><c>SMFIP_NR_BODY</c>.</summary>
    NoReplyBody = 0x80000,

    /// <summary><c>SMFIP_HDR_LEADSPC</c>: header values keep their leading space, both ways.</summary>
    HeaderLeadingSpace = 0x100000,
}
