using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Mime;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace ContentFilter.Checks.Dkim;

/// <summary>The <c>dkim-sign</c> finisher: signs originating mail as it will leave and prepends the DKIM-Signature.</summary>
/// <remarks>
/// The signature covers the final header view (our added fields, removals and changes applied, exactly as
/// <see cref="OutgoingMessage"/> writes them) and the spooled body read as a stream; nothing but the new field is
/// changed (invariant 2). Keys follow the From: header, as in OpenDKIM. No matching key: passed unsigned with a
/// note. A key that cannot be used: a failure, so the message is deferred (4xx) rather than sent unsigned. A signed
/// message gets a <see cref="DkimSignResult"/> naming each signature, which the audit record logs as <c>dkim_new</c>.
/// </remarks>
public sealed partial class DkimSigner : IMessageFinisher, ContentFilter.Pipeline.Policy.IReloadable
{
    private readonly DkimSigningOptions _options;
    private volatile DkimSigningKeySelector _selector;
    private readonly DkimKeyStore _keys;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Creates the signer; loads the KeyTable and SigningTable when configured.</summary>
    /// <exception cref="FormatException">A table is malformed.</exception>
    public DkimSigner(DkimOptions options, TimeProvider time, ILogger<DkimSigner> logger)
    {
        _options = options.Sign;
        _selector = new DkimSigningKeySelector(options.Sign);
        _keys = new DkimKeyStore(options.Sign.RequireSafeKeys, time);
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public string Name => "dkim-sign";

    /// <summary>
    /// SIGHUP: re-reads the KeyTable and SigningTable and loads every key they name; any problem (malformed table,
    /// unsafe or unreadable key) refuses the reload and the tables in force stay.
    /// </summary>
    public ValueTask<Action> PrepareAsync(CancellationToken cancellationToken)
    {
        var next = new DkimSigningKeySelector(_options);
        var errors = new List<string>();
        foreach (DkimKeyChoice k in next.AllKeys())
        {
            try
            {
                using DkimPrivateKey _ = Load(k, cache: false);
            }
            catch (DkimKeyException e)
            {
                errors.Add($"DKIM key {k.Selector}._domainkey.{k.Domain}: {e.Message}");
            }
        }
        if (errors.Count > 0)
        {
            throw new InvalidDataException(string.Join("; ", errors));
        }
        return ValueTask.FromResult<Action>(() => _selector = next);
    }

    /// <summary>Loads every configured key once, so a bad key (unsafe mode, unreadable, no key) stops start-up with a clear message.</summary>
    public IReadOnlyList<string> ValidateKeys()
    {
        var errors = new List<string>();
        foreach (DkimKeyChoice k in _selector.AllKeys())
        {
            try
            {
                using DkimPrivateKey _ = Load(k, cache: false);
            }
            catch (DkimKeyException e)
            {
                errors.Add($"DKIM key {k.Selector}._domainkey.{k.Domain}: {e.Message}");
            }
        }
        return errors;
    }

    /// <inheritdoc />
    public async ValueTask<CheckResult?> FinishAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken)
    {
        if (!_options.Enabled || context.Direction != MessageDirection.Originating)
        {
            return null;
        }
        if (context.Headers.Truncated)
        {
            return CheckResult.Skip(Name, "header section too large to sign");
        }
        IReadOnlyList<HeaderField> fields = FinalFields(context.Headers, verdict.Edits);
        List<HeaderField> froms = fields.Where(f => f.Is("From")).ToList();
        if (froms.Count != 1 || FromAddress(froms[0].Value) is not string from)
        {
            Log.Unsigned(_logger, context.MailId, "no single From address");
            return CheckResult.Skip(Name, froms.Count == 0 ? "not signed: no From field" : "not signed: no single From address");
        }

        IReadOnlyList<DkimKeyChoice> choices;
        try
        {
            choices = _selector.Select(from);
        }
        catch (FormatException e)
        {
            return CheckResult.Failure(Name, e.Message);
        }
        if (choices.Count == 0)
        {
            Log.Unsigned(_logger, context.MailId, "no key for " + from);
            return CheckResult.Skip(Name, $"not signed: no key for {from}");
        }

        var loaded = new List<(DkimKeyChoice Choice, DkimPrivateKey Key)>();
        foreach (DkimKeyChoice c in choices)
        {
            try
            {
                loaded.Add((c, Load(c, cache: true)));
            }
            catch (DkimKeyException e)
            {
                Log.KeyFailed(_logger, context.MailId, e.Message);
                return CheckResult.Failure(Name, e.Message);
            }
        }

        DkimSignatureFields.TryParseCanonicalization(_options.Canonicalization, out _, out DkimCanonicalization bodyCanon);
        byte[] bodyHash;
        await using (Stream body = context.Spool.OpenRead())
        {
            body.Seek(context.Spool.BodyOffset, SeekOrigin.Begin);
            bodyHash = await DkimSignatureBuilder.HashBodyAsync(body, bodyCanon, cancellationToken).ConfigureAwait(false);
        }
        List<string> h = DkimSignatureBuilder.SelectHeaders(fields, _options.Headers, _options.OversignHeaders);
        DateTimeOffset now = _time.GetUtcNow();
        var added = new List<string>();
        // Signatures are computed over the same view, so with dual signing neither covers the other.
        var values = new List<string>();
        foreach ((DkimKeyChoice c, DkimPrivateKey key) in loaded)
        {
            values.Add(DkimSignatureBuilder.Sign(fields, bodyHash, key, c.Domain, c.Selector, c.Identity, _options.Canonicalization, h,
                now, _options.SignatureLifetime is TimeSpan life ? now + life : null));
            added.Add($"{c.Selector}:{c.Domain}");
        }
        for (int i = values.Count - 1; i >= 0; i--)
        {
            verdict.Edits.AddOnTop(DkimVerifier.FieldName, values[i]);
        }
        Log.Signed(_logger, context.MailId, string.Join(",", added));
        return new DkimSignResult { Check = Name, Status = CheckStatus.Ok, Detail = "signed by " + string.Join(",", added), Signatures = added };
    }

    /// <summary>The header fields exactly as the doors will write them: <see cref="OutgoingMessage.BuildPrefix"/> parsed back.</summary>
    /// <remarks>
    /// Equivalent to <see cref="HeaderEdits.Apply"/>, but byte-exact: added and changed fields are
    /// <c>Name: value</c> and untouched fields keep their received bytes, so even simple header canonicalisation
    /// matches what the next hop receives.
    /// </remarks>
    public static IReadOnlyList<HeaderField> FinalFields(MessageHeaders headers, IReadOnlyList<HeaderEdit> edits)
    {
        byte[] prefix = OutgoingMessage.BuildPrefix(headers, edits, out long copyFrom);
        List<HeaderField> fields = prefix.Length == 0 ? [] : HeaderSectionReader.Read(prefix, 0, out _, out _);
        // Received fields the prefix does not hold follow it verbatim from copyFrom (all of them with additions only).
        fields.AddRange(headers.Fields.Where(f => f.Offset >= copyFrom));
        fields.RemoveAll(f => f.Name.Length == 0);
        return fields;
    }

    /// <summary>The single mailbox address in a From value, or null (group, list of several, unparsable).</summary>
    public static string? FromAddress(string value)
    {
        if (!InternetAddressList.TryParse(ParserOptions.Default, value, out InternetAddressList? list) || list.Count != 1 || list[0] is not MailboxAddress mailbox)
        {
            return null;
        }
        string address = mailbox.Address;
        int at = address.LastIndexOf('@');
        return at <= 0 || at == address.Length - 1 ? null : address;
    }

    private DkimPrivateKey Load(DkimKeyChoice choice, bool cache)
    {
        if (choice.KeyFile is not null)
        {
            return cache ? _keys.Get(choice.KeyFile) : DkimKeyStore.LoadChecked(choice.KeyFile, _options.RequireSafeKeys);
        }
        try
        {
            return DkimPrivateKey.Parse(choice.InlineKey!);
        }
        catch (FormatException e)
        {
            throw new DkimKeyException($"inline key for {choice.Selector}._domainkey.{choice.Domain}: {e.Message}", e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5110, Level = LogLevel.Debug, Message = "{MailId} signed by {Keys}")]
        public static partial void Signed(ILogger logger, string mailId, string keys);

        [LoggerMessage(EventId = 5111, Level = LogLevel.Information, Message = "{MailId} not DKIM-signed: {Why}")]
        public static partial void Unsigned(ILogger logger, string mailId, string why);

        [LoggerMessage(EventId = 5112, Level = LogLevel.Error, Message = "{MailId} DKIM signing failed: {Why}")]
        public static partial void KeyFailed(ILogger logger, string mailId, string why);
    }
}
