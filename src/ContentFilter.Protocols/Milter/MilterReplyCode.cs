namespace ContentFilter.Protocols.Milter;

/// <summary>The command byte of a packet the filter sends to the MTA (libmilter <c>mfdef.h</c> <c>SMFIR_*</c>).</summary>
/// <remarks>Postfix has no case for <c>SMFIR_CONN_FAIL</c> ('f'), so it is not listed (PROTOCOLS.md §2).</remarks>
public enum MilterReplyCode : byte
{
    /// <summary><c>SMFIR_ADDRCPT</c> ('+'): add a recipient. End of message only.</summary>
    AddRecipient = (byte)'+',

    /// <summary><c>SMFIR_DELRCPT</c> ('-'): remove a recipient. End of message only.</summary>
    DeleteRecipient = (byte)'-',

    /// <summary><c>SMFIR_ADDRCPT_PAR</c> ('2'): add a recipient with ESMTP parameters. End of message only.</summary>
    AddRecipientWithParameters = (byte)'2',

    /// <summary><c>SMFIR_SHUTDOWN</c> ('4'): 421 and disconnect.</summary>
    Shutdown = (byte)'4',

    /// <summary><c>SMFIR_ACCEPT</c> ('a'): accept the message (the connection at CONNECT/HELO) without further events.</summary>
    Accept = (byte)'a',

    /// <summary><c>SMFIR_REPLBODY</c> ('b'): replace the body (a chunk of it). End of message only.</summary>
    ReplaceBody = (byte)'b',

    /// <summary><c>SMFIR_CONTINUE</c> ('c'): go on.</summary>
    Continue = (byte)'c',

    /// <summary><c>SMFIR_DISCARD</c> ('d'): accept and drop the message. Refused by Postfix at CONNECT/HELO.</summary>
    Discard = (byte)'d',

    /// <summary><c>SMFIR_CHGFROM</c> ('e'): change the envelope sender. End of message only.</summary>
    ChangeFrom = (byte)'e',

    /// <summary><c>SMFIR_ADDHEADER</c> ('h'): append a header field. End of message only.</summary>
    AddHeader = (byte)'h',

    /// <summary><c>SMFIR_INSHEADER</c> ('i'): insert a header field at an index. End of message only.</summary>
    InsertHeader = (byte)'i',

    /// <summary><c>SMFIR_CHGHEADER</c> ('m'): change (empty value: delete) the n-th field of a name. End of message only.</summary>
    ChangeHeader = (byte)'m',

    /// <summary><c>SMFIR_PROGRESS</c> ('p'): still working; restarts the MTA's timer.</summary>
    Progress = (byte)'p',

    /// <summary><c>SMFIR_QUARANTINE</c> ('q'): put the message on hold (Postfix hold queue); not a final answer.</summary>
    Quarantine = (byte)'q',

    /// <summary><c>SMFIR_REJECT</c> ('r'): reject with the MTA's default text (550 5.7.1).</summary>
    Reject = (byte)'r',

    /// <summary><c>SMFIR_SKIP</c> ('s'): skip further events of this type (body chunks).</summary>
    Skip = (byte)'s',

    /// <summary><c>SMFIR_TEMPFAIL</c> ('t'): temporary failure with the MTA's default text (451 4.7.1).</summary>
    TempFail = (byte)'t',

    /// <summary><c>SMFIR_REPLYCODE</c> ('y'): reject or tempfail with our own <c>ddd x.y.z text</c>.</summary>
    ReplyCode = (byte)'y',

    /// <summary><c>SMFIC_OPTNEG</c> ('O') as a reply: our version, actions, protocol and macro lists.</summary>
    OptNeg = (byte)'O',
}
