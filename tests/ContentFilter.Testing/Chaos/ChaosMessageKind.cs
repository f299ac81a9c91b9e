namespace ContentFilter.Testing.Chaos;

/// <summary>What a generated chaos message is made of.</summary>
[Flags]
public enum ChaosMessageKind
{
    /// <summary>7-bit text (and, when large, a base64 attachment).</summary>
    Plain = 0,

    /// <summary>An 8-bit body (UTF-8 text and raw high bytes) sent with <c>BODY=8BITMIME</c>.</summary>
    EightBit = 1,

    /// <summary>Carries a DKIM-Signature (rsa-sha256, relaxed/relaxed) made with the run's key.</summary>
    Signed = 2,

    /// <summary>Carries EICAR: the filter must discard it (fail closed), never deliver it.</summary>
    Virus = 4,
}
