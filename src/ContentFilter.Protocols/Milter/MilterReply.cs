namespace ContentFilter.Protocols.Milter;

/// <summary>One packet from the filter to the MTA, named after its <c>SMFIR_*</c> code.</summary>
/// <remarks>
/// Edits (<see cref="AddHeader"/>, <see cref="InsertHeader"/>, <see cref="ChangeHeader"/>, recipient and body
/// changes) are valid only after <c>SMFIC_BODYEOB</c> and before the final action, in order (PROTOCOLS.md §2).
/// </remarks>
public abstract record MilterReply
{
    /// <summary>The reply byte.</summary>
    public abstract MilterReplyCode Code { get; }

    /// <summary><c>SMFIR_ACCEPT</c>.</summary>
    public static MilterReply Accept { get; } = new Simple(MilterReplyCode.Accept);

    /// <summary><c>SMFIR_CONTINUE</c>.</summary>
    public static MilterReply Continue { get; } = new Simple(MilterReplyCode.Continue);

    /// <summary><c>SMFIR_REJECT</c>.</summary>
    public static MilterReply Reject { get; } = new Simple(MilterReplyCode.Reject);

    /// <summary><c>SMFIR_TEMPFAIL</c>.</summary>
    public static MilterReply TempFail { get; } = new Simple(MilterReplyCode.TempFail);

    /// <summary><c>SMFIR_DISCARD</c>.</summary>
    public static MilterReply Discard { get; } = new Simple(MilterReplyCode.Discard);

    /// <summary><c>SMFIR_SKIP</c>.</summary>
    public static MilterReply Skip { get; } = new Simple(MilterReplyCode.Skip);

    /// <summary><c>SMFIR_PROGRESS</c>.</summary>
    public static MilterReply Progress { get; } = new Simple(MilterReplyCode.Progress);

    /// <summary><c>SMFIR_SHUTDOWN</c>.</summary>
    public static MilterReply Shutdown { get; } = new Simple(MilterReplyCode.Shutdown);

    /// <summary>A reply without data: <c>a c r t d s p 4</c>.</summary>
    public sealed record Simple : MilterReply
    {
        private readonly MilterReplyCode _code;

        /// <summary>Creates the reply; only codes that carry no data are allowed.</summary>
        public Simple(MilterReplyCode code)
        {
            if (code is not (MilterReplyCode.Accept or MilterReplyCode.Continue or MilterReplyCode.Reject or MilterReplyCode.TempFail
                or MilterReplyCode.Discard or MilterReplyCode.Skip or MilterReplyCode.Progress or MilterReplyCode.Shutdown))
            {
                throw new ArgumentOutOfRangeException(nameof(code), code, "This reply carries data.");
            }
            _code = code;
        }

        /// <inheritdoc />
        public override MilterReplyCode Code => _code;
    }

    /// <summary>
    /// <c>SMFIC_OPTNEG</c> reply: our version, actions and protocol bits, and optionally our macro list per stage
    /// (replacing Postfix's <c>milter_*_macros</c> for that stage; needs <see cref="MilterActions.SetSymbolList"/>).
    /// </summary>
    public sealed record OptNeg(uint Version, MilterActions Actions, MilterProtocol Protocol, IReadOnlyList<KeyValuePair<MilterMacroStage, string>> MacroLists) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.OptNeg;

        /// <inheritdoc />
        public bool Equals(OptNeg? other) => other is not null && Version == other.Version && Actions == other.Actions && Protocol == other.Protocol && MacroLists.SequenceEqual(other.MacroLists);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(Version, Actions, Protocol);
    }

    /// <summary><c>SMFIR_REPLYCODE</c>: <c>ddd x.y.z text</c> (4xx or 5xx; <c>%</c> must be written as <c>%%</c>).</summary>
    public sealed record ReplyCode(string Text) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.ReplyCode;
    }

    /// <summary><c>SMFIR_QUARANTINE</c>: hold the message, with a reason.</summary>
    public sealed record Quarantine(string Reason) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.Quarantine;
    }

    /// <summary><c>SMFIR_ADDHEADER</c>: append a field at the end of the header section.</summary>
    public sealed record AddHeader(string Name, string Value) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.AddHeader;
    }

    /// <summary><c>SMFIR_INSHEADER</c>: insert at <paramref name="Index"/> (Postfix adds 1 and counts its own Received).</summary>
    public sealed record InsertHeader(uint Index, string Name, string Value) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.InsertHeader;
    }

    /// <summary><c>SMFIR_CHGHEADER</c>: change the <paramref name="Index"/>-th field named <paramref name="Name"/> (1-based); empty value deletes.</summary>
    public sealed record ChangeHeader(uint Index, string Name, string Value) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.ChangeHeader;
    }

    /// <summary><c>SMFIR_CHGFROM</c>: new sender and optional ESMTP parameters.</summary>
    public sealed record ChangeFrom(string Sender, string? Parameters) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.ChangeFrom;
    }

    /// <summary><c>SMFIR_ADDRCPT</c>.</summary>
    public sealed record AddRecipient(string Recipient) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.AddRecipient;
    }

    /// <summary><c>SMFIR_ADDRCPT_PAR</c>.</summary>
    public sealed record AddRecipientWithParameters(string Recipient, string? Parameters) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.AddRecipientWithParameters;
    }

    /// <summary><c>SMFIR_DELRCPT</c>.</summary>
    public sealed record DeleteRecipient(string Recipient) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.DeleteRecipient;
    }

    /// <summary><c>SMFIR_REPLBODY</c>: a chunk of the new body.</summary>
    public sealed record ReplaceBody(byte[] Chunk) : MilterReply
    {
        /// <inheritdoc />
        public override MilterReplyCode Code => MilterReplyCode.ReplaceBody;

        /// <inheritdoc />
        public bool Equals(ReplaceBody? other) => other is not null && Chunk.AsSpan().SequenceEqual(other.Chunk);

        /// <inheritdoc />
        public override int GetHashCode() => Chunk.Length;
    }
}
