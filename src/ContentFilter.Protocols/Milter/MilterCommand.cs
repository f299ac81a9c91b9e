namespace ContentFilter.Protocols.Milter;

/// <summary>One decoded packet from the MTA, named after its <c>SMFIC_*</c> code.</summary>
/// <remarks>
/// Strings are decoded as UTF-8 (envelope addresses may be SMTPUTF8). Header values and body chunks stay bytes,
/// because they go into the spool exactly as they came (DKIM hashes them). Records own their bytes: nothing points
/// into the pipe's buffers after <see cref="MilterPacketReader.TryRead"/> returns.
/// </remarks>
public abstract record MilterCommand
{
    /// <summary>The command byte.</summary>
    public abstract MilterCommandCode Code { get; }

    /// <summary><c>SMFIC_OPTNEG</c>: what the MTA offers.</summary>
    public sealed record OptNeg(uint Version, MilterActions Actions, MilterProtocol Protocol) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.OptNeg;
    }

    /// <summary><c>SMFIC_MACRO</c>: macro values for the event <paramref name="Stage"/> (a command byte); maybe none.</summary>
    public sealed record Macro(MilterCommandCode Stage, IReadOnlyList<KeyValuePair<string, string>> Macros) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Macro;

        /// <inheritdoc />
        public bool Equals(Macro? other) => other is not null && Stage == other.Stage && Macros.SequenceEqual(other.Macros);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(Stage, Macros.Count);
    }

    /// <summary><c>SMFIC_CONNECT</c>: host (<c>[1.2.3.4]</c> when unknown), family <c>4 6 L U</c>, port and address (none after <c>U</c>).</summary>
    public sealed record Connect(string Host, char Family, ushort Port, string? Address) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Connect;
    }

    /// <summary><c>SMFIC_HELO</c>.</summary>
    public sealed record Helo(string Name) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Helo;
    }

    /// <summary><c>SMFIC_MAIL</c>: the address token as received (<c>&lt;a@b&gt;</c>, <c>&lt;&gt;</c>), then ESMTP parameters.</summary>
    public sealed record Mail(string Address, IReadOnlyList<string> Parameters) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Mail;

        /// <inheritdoc />
        public bool Equals(Mail? other) => other is not null && Address == other.Address && Parameters.SequenceEqual(other.Parameters);

        /// <inheritdoc />
        public override int GetHashCode() => Address.GetHashCode(StringComparison.Ordinal);
    }

    /// <summary><c>SMFIC_RCPT</c>: the address token as received, then ESMTP parameters.</summary>
    public sealed record Rcpt(string Address, IReadOnlyList<string> Parameters) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Rcpt;

        /// <inheritdoc />
        public bool Equals(Rcpt? other) => other is not null && Address == other.Address && Parameters.SequenceEqual(other.Parameters);

        /// <inheritdoc />
        public override int GetHashCode() => Address.GetHashCode(StringComparison.Ordinal);
    }

    /// <summary><c>SMFIC_DATA</c>.</summary>
    public sealed record Data : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Data;
    }

    /// <summary><c>SMFIC_HEADER</c>: name and raw value (folded lines joined by a bare LF, as Postfix sends them).</summary>
    public sealed record Header(string Name, byte[] Value) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Header;

        /// <inheritdoc />
        public bool Equals(Header? other) => other is not null && Name == other.Name && Value.AsSpan().SequenceEqual(other.Value);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(Name, Value.Length);
    }

    /// <summary><c>SMFIC_EOH</c>.</summary>
    public sealed record EndOfHeaders : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.EndOfHeaders;
    }

    /// <summary><c>SMFIC_BODY</c>: one raw chunk.</summary>
    public sealed record Body(byte[] Chunk) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Body;

        /// <inheritdoc />
        public bool Equals(Body? other) => other is not null && Chunk.AsSpan().SequenceEqual(other.Chunk);

        /// <inheritdoc />
        public override int GetHashCode() => Chunk.Length;
    }

    /// <summary><c>SMFIC_BODYEOB</c>: end of message, with a last body chunk (Sendmail and old Postfix send one; 3.x sends none).</summary>
    public sealed record BodyEob(byte[] Chunk) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.BodyEob;

        /// <inheritdoc />
        public bool Equals(BodyEob? other) => other is not null && Chunk.AsSpan().SequenceEqual(other.Chunk);

        /// <inheritdoc />
        public override int GetHashCode() => Chunk.Length;
    }

    /// <summary><c>SMFIC_ABORT</c>.</summary>
    public sealed record Abort : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Abort;
    }

    /// <summary><c>SMFIC_QUIT</c>.</summary>
    public sealed record Quit : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Quit;
    }

    /// <summary><c>SMFIC_QUIT_NC</c>: end of this SMTP connection; another follows on the same socket.</summary>
    public sealed record QuitNewConnection : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.QuitNewConnection;
    }

    /// <summary><c>SMFIC_UNKNOWN</c>: the unknown SMTP command line.</summary>
    public sealed record Unknown(string CommandLine) : MilterCommand
    {
        /// <inheritdoc />
        public override MilterCommandCode Code => MilterCommandCode.Unknown;
    }
}
