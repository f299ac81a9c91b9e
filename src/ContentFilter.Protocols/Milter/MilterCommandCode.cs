namespace ContentFilter.Protocols.Milter;

/// <summary>The command byte of a packet the MTA sends to the filter (libmilter <c>mfdef.h</c> <c>SMFIC_*</c>).</summary>
public enum MilterCommandCode : byte
{
    /// <summary><c>SMFIC_ABORT</c>: end of the transaction; Postfix sends it after every one, successful or not.</summary>
    Abort = (byte)'A',

    /// <summary><c>SMFIC_BODY</c>: one body chunk (at most 65535 bytes from Postfix).</summary>
    Body = (byte)'B',

    /// <summary><c>SMFIC_CONNECT</c>: client host, family, port and address.</summary>
    Connect = (byte)'C',

    /// <summary><c>SMFIC_MACRO</c>: macro values for the stage named by the first data byte.</summary>
    Macro = (byte)'D',

    /// <summary><c>SMFIC_BODYEOB</c>: end of message; the only stage where edits are allowed.</summary>
    BodyEob = (byte)'E',

    /// <summary><c>SMFIC_HELO</c>: the HELO/EHLO argument.</summary>
    Helo = (byte)'H',

    /// <summary><c>SMFIC_QUIT_NC</c>: quit, but a new connection follows on this socket.</summary>
    QuitNewConnection = (byte)'K',

    /// <summary><c>SMFIC_HEADER</c>: one header field, name and value.</summary>
    Header = (byte)'L',

    /// <summary><c>SMFIC_MAIL</c>: MAIL FROM address and ESMTP parameters.</summary>
    Mail = (byte)'M',

    /// <summary><c>SMFIC_EOH</c>: end of the header section.</summary>
    EndOfHeaders = (byte)'N',

    /// <summary><c>SMFIC_OPTNEG</c>: option negotiation (version, actions, protocol).</summary>
    OptNeg = (byte)'O',

    /// <summary><c>SMFIC_QUIT</c>: close the connection.</summary>
    Quit = (byte)'Q',

    /// <summary><c>SMFIC_RCPT</c>: RCPT TO address and ESMTP parameters.</summary>
    Rcpt = (byte)'R',

    /// <summary><c>SMFIC_DATA</c>: the DATA command.</summary>
    Data = (byte)'T',

    /// <summary><c>SMFIC_UNKNOWN</c>: an SMTP command the MTA did not know.</summary>
    Unknown = (byte)'U',
}
