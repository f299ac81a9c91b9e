namespace ContentFilter.Protocols.Milter;

/// <summary>Why a packet could not be decoded. Each one closes the connection (the MTA applies its default action).</summary>
public enum MilterError
{
    /// <summary>No error.</summary>
    None,

    /// <summary>The length prefix is 0: there is no command byte (emersion/go-milter read <c>data[0]</c> and crashed).</summary>
    ZeroLength,

    /// <summary>The length prefix is above the cap; refused before anything is allocated.</summary>
    TooLong,

    /// <summary>The command byte is not one the protocol defines.</summary>
    UnknownCommand,

    /// <summary>A string field is not NUL-terminated within the packet.</summary>
    MissingNul,

    /// <summary>A fixed-size field or packet has the wrong size (OPTNEG not 12 bytes, data where none belongs).</summary>
    WrongSize,

    /// <summary>CONNECT names an address family other than <c>4 6 L U</c>.</summary>
    BadFamily,

    /// <summary>Bytes left over after the last field.</summary>
    TrailingData,
}
