namespace ContentFilter.Protocols.Milter;

/// <summary>The stage a macro list in the OPTNEG reply applies to (libmilter <c>SMFIM_*</c>).</summary>
public enum MilterMacroStage : uint
{
    /// <summary><c>SMFIM_CONNECT</c>.</summary>
    Connect = 0,

    /// <summary><c>SMFIM_HELO</c>.</summary>
    Helo = 1,

    /// <summary><c>SMFIM_ENVFROM</c>.</summary>
    EnvFrom = 2,

    /// <summary><c>SMFIM_ENVRCPT</c>.</summary>
    EnvRcpt = 3,

    /// <summary><c>SMFIM_DATA</c>.</summary>
    Data = 4,

    /// <summary><c>SMFIM_EOM</c>.</summary>
    EndOfMessage = 5,

    /// <summary><c>SMFIM_EOH</c>.</summary>
    EndOfHeaders = 6,
}
