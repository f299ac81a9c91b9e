namespace ContentFilter.Protocols.Milter;

/// <summary>What the filter may do to a message, negotiated in OPTNEG (libmilter <c>SMFIF_*</c>).</summary>
/// <remarks>The filter answers with a subset of what the MTA offered; asking for more fails the milter in Postfix.</remarks>
[Flags]
public enum MilterActions : uint
{
    /// <summary>No actions.</summary>
    None = 0,

    /// <summary><c>SMFIF_ADDHDRS</c>: add and insert header fields.</summary>
    AddHeaders = 0x01,

    /// <summary><c>SMFIF_CHGBODY</c>: replace the body.</summary>
    ChangeBody = 0x02,

    /// <summary><c>SMFIF_ADDRCPT</c>: add recipients.</summary>
    AddRecipient = 0x04,

    /// <summary><c>SMFIF_DELRCPT</c>: delete recipients.</summary>
    DeleteRecipient = 0x08,

    /// <summary><c>SMFIF_CHGHDRS</c>: change and delete header fields.</summary>
    ChangeHeaders = 0x10,

    /// <summary><c>SMFIF_QUARANTINE</c>: put messages on hold.</summary>
    Quarantine = 0x20,

    /// <summary><c>SMFIF_CHGFROM</c>: change the envelope sender.</summary>
    ChangeFrom = 0x40,

    /// <summary><c>SMFIF_ADDRCPT_PAR</c>: add recipients with ESMTP parameters.</summary>
    AddRecipientWithParameters = 0x80,

    /// <summary><c>SMFIF_SETSYMLIST</c>: send our own macro lists in the OPTNEG reply.</summary>
    SetSymbolList = 0x100,
}
