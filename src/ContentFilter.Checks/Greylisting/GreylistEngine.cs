using System.Globalization;
using System.Net;
using System.Reflection;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Pipeline.Policy;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Greylisting;

/// <summary>Greylisting with postgrey 1.37's semantics (PROTOCOLS.md §6), for the policy server and the milter.</summary>
/// <remarks>
/// <para>Order: client whitelist (name, then IP), recipient whitelist, client auto-whitelist, our exemptions (SPF
/// pass, FCrDNS), then the triplet <c>lowercase(net/sender'/recipient)</c>. A new triplet is deferred for
/// <see cref="GreylistOptions.DelaySeconds"/>; a retry after that passes, and the first pass adds an
/// <c>X-Greylist</c> header once per message. Each decision is logged like postgrey's line.</para>
/// <para>Store errors propagate: the policy session then closes without an answer and Postfix applies its
/// default action, instead of us guessing one.</para>
/// </remarks>
public sealed partial class GreylistEngine : IGreylist, IReloadable
{
    private const int InstancesKept = 10;
    private static readonly string Version = typeof(GreylistEngine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "1.0";

    private readonly GreylistOptions _options;
    private readonly IGreylistStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<IGreylistExemption> _exemptions;
    private readonly GreylistTiming _timing;
    private readonly GreylistKeyHasher _hasher;
    private readonly Queue<string> _instances = new();
    private readonly string _hostName;
    private readonly IAuditSink? _audit;
    private readonly LogLevel _decisionLevel;
    private volatile GreylistWhitelists _whitelists = GreylistWhitelists.Empty;
    private long _nextExpiry;
    private int _expiring;

    /// <summary>Creates the engine and reads the whitelist files.</summary>
    /// <param name="options">Settings.</param>
    /// <param name="store">Triplet store.</param>
    /// <param name="exemptions">Beyond-postgrey passes (SPF, FCrDNS), asked in order.</param>
    /// <param name="time">Clock.</param>
    /// <param name="logger">Logger: one postgrey-style line per decision.</param>
    /// <param name="audit">
    /// Optional audit sink: each decision also becomes a <see cref="GreylistAuditRecord"/>. The sink writes postgrey's
    /// line itself, so with a sink our own decision line drops to Debug instead of appearing twice.
    /// </param>
    public GreylistEngine(GreylistOptions options, IGreylistStore store, IEnumerable<IGreylistExemption> exemptions, TimeProvider time, ILogger<GreylistEngine> logger, IAuditSink? audit = null)
    {
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid greylist options: " + string.Join("; ", errors), nameof(options));
        }
        _options = options;
        _store = store;
        _time = time;
        _logger = logger;
        _exemptions = exemptions.ToList();
        _timing = new GreylistTiming(options.DelaySeconds, options.RetryWindowSeconds, options.MaxAgeSeconds, 3600);
        _hasher = new GreylistKeyHasher(options.Privacy, options.PrivacyKey);
        _hostName = string.IsNullOrEmpty(options.HostName) ? System.Net.Dns.GetHostName() : options.HostName;
        _nextExpiry = time.GetUtcNow().ToUnixTimeSeconds();
        _audit = audit;
        _decisionLevel = audit is null ? LogLevel.Information : LogLevel.Debug;
        Reload();
    }

    /// <summary>The whitelists in use.</summary>
    public GreylistWhitelists Whitelists => _whitelists;

    /// <summary>Rereads the whitelist files (the host calls this on SIGHUP). The database is not touched, as in postgrey.</summary>
    /// <remarks>Bad lines are skipped with a warning; an unreadable main file leaves its entries out rather than stopping the service.</remarks>
    public void Reload()
    {
        var warnings = new List<string>();
        GreylistWhitelists lists = GreylistWhitelists.Load(_options.WhitelistClientFiles, _options.WhitelistRecipientFiles, warnings);
        foreach (string warning in warnings)
        {
            Log.WhitelistProblem(_logger, warning);
        }
        _whitelists = lists;
        Log.WhitelistsLoaded(_logger, lists.ClientEntries, lists.RecipientEntries);
    }

    /// <inheritdoc />
    public string Name => "greylist";

    /// <summary>SIGHUP through the host's reload coordinator: reads the whitelist files and refuses any problem.</summary>
    /// <remarks>
    /// Stricter than <see cref="Reload"/>: a bad line or an unreadable file throws, so the lists in force stay as
    /// they were rather than silently losing entries (the admin sees the error from <c>systemctl reload</c>'s log).
    /// </remarks>
    public ValueTask<Action> PrepareAsync(CancellationToken cancellationToken)
    {
        var warnings = new List<string>();
        GreylistWhitelists lists = GreylistWhitelists.Load(_options.WhitelistClientFiles, _options.WhitelistRecipientFiles, warnings);
        if (warnings.Count > 0)
        {
            throw new InvalidDataException(string.Join("; ", warnings));
        }
        return ValueTask.FromResult<Action>(() =>
        {
            _whitelists = lists;
            Log.WhitelistsLoaded(_logger, lists.ClientEntries, lists.RecipientEntries);
        });
    }

    /// <summary>Replaces the whitelists (tests, or lists built from configuration).</summary>
    public void SetWhitelists(GreylistWhitelists lists) => _whitelists = lists;

    /// <inheritdoc />
    public async Task<GreylistDecision> CheckAsync(GreylistRequest request, CancellationToken cancellationToken)
    {
        GreylistWhitelists lists = _whitelists;
        if (lists.MatchesClient(request.ClientName, request.ClientAddress))
        {
            return Pass(request, "client whitelist");
        }
        if (lists.MatchesRecipient(request.Recipient))
        {
            return Pass(request, "recipient whitelist");
        }

        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        bool autoWhitelist = _options.AutoWhitelistClients > 0;
        string? clientKey = autoWhitelist ? _hasher.Hash(ClientNetwork.Canonical(request.ClientAddress).ToString()) : null;
        // Without exemptions the auto-whitelist check, the triplet and the pass count are one store operation (one
        // transaction or round trip); exemptions (DNS lookups) sit between the first and the others.
        bool checkAutoWhitelist = autoWhitelist;
        if (autoWhitelist && _exemptions.Count > 0)
        {
            if (await _store.TouchAutoWhitelistedAsync(clientKey!, now, _options.AutoWhitelistClients, _timing, cancellationToken).ConfigureAwait(false))
            {
                return Pass(request, "client AWL");
            }
            checkAutoWhitelist = false;
        }

        foreach (IGreylistExemption exemption in _exemptions)
        {
            if (await IsExemptAsync(exemption, request, cancellationToken).ConfigureAwait(false))
            {
                return Pass(request, exemption.Reason);
            }
        }

        string key = _hasher.Hash(TripletKey(request, _options.LookupByHost));
        GreylistCheckResult result = await _store.CheckAsync(
            new GreylistCheck(key, clientKey, checkAutoWhitelist, _options.AutoWhitelistClients, now, _timing), cancellationToken).ConfigureAwait(false);
        if (result.AutoWhitelisted)
        {
            return Pass(request, "client AWL");
        }
        TripletState state = result.Triplet;
        long waited = now - state.First;
        long missing = _timing.Delay - waited;

        if (result.PassCount == _options.AutoWhitelistClients && result.PassCount > 0)
        {
            Log.AutoWhitelisted(_logger, request.ClientName, request.ClientAddress.ToString(), result.PassCount);
        }

        MaybeExpire(now);

        if (missing > 0)
        {
            string reason = state.Found ? $"early-retry ({missing}s missing)" : "new";
            Record("greylist", reason, request, null);
            return new GreylistDecision(GreylistAction.Defer, reason, DeferText(request.Recipient, missing), null);
        }

        string? header = null;
        if (!state.LastWasSuccessful)
        {
            Record("pass", "triplet found", request, waited);
            if (_options.AddHeader && FirstTimeForInstance(request.Instance))
            {
                header = $"X-Greylist: delayed {waited} seconds by contentfilter-{Version} at {_hostName}; {FormatDate(_time)}";
            }
        }
        else
        {
            Record("pass", "triplet found", request, null);
        }
        return new GreylistDecision(GreylistAction.Pass, "triplet found", null, header);
    }

    /// <summary>Removes expired records now (SQLite; Redis keys expire by themselves).</summary>
    public async Task<int> ExpireAsync(CancellationToken cancellationToken)
    {
        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        int removed = await _store.ExpireAsync(now, _timing, cancellationToken).ConfigureAwait(false);
        Log.Expired(_logger, removed);
        return removed;
    }

    /// <summary>The triplet key before hashing: <c>lowercase(net/sender'/recipient)</c>.</summary>
    public static string TripletKey(GreylistRequest request, bool lookupByHost)
        => (ClientNetwork.KeyPart(request.ClientAddress, lookupByHost) + "/" + SenderNormalizer.Normalize(request.Sender) + "/" + request.Recipient).ToLowerInvariant();

    private string DeferText(string recipient, long missing)
    {
        int at = recipient.LastIndexOf('@');
        string domain = at < 0 ? "" : recipient[(at + 1)..];
        string text = _options.GreylistText.Replace("%r", domain, StringComparison.Ordinal).Replace("%s", missing.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        // Postfix always sends etrn_domain, so postgrey always prefixes the enhanced status code 4.2.0 (PROTOCOLS.md §6).
        return "4.2.0 " + text;
    }

    private GreylistDecision Pass(GreylistRequest request, string reason)
    {
        Record("pass", reason, request, null);
        return new GreylistDecision(GreylistAction.Pass, reason, null, null);
    }

    private void Record(string action, string reason, GreylistRequest request, long? delay)
    {
        string address = request.ClientAddress.ToString();
        if (delay is long d)
        {
            Log.FirstPass(_logger, _decisionLevel, reason, d, request.ClientName, address, request.Sender, request.Recipient);
        }
        else
        {
            Log.Decision(_logger, _decisionLevel, action, reason, request.ClientName, address, request.Sender, request.Recipient);
        }
        _audit?.WriteGreylist(new GreylistAuditRecord
        {
            Time = _time.GetUtcNow(),
            Action = action,
            Reason = reason,
            ClientName = request.ClientName,
            ClientAddress = address,
            Sender = request.Sender,
            Recipient = request.Recipient,
            DelaySeconds = delay,
        });
    }

    private async Task<bool> IsExemptAsync(IGreylistExemption exemption, GreylistRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await exemption.IsExemptAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.ExemptionFailed(_logger, exemption.Reason, ex);
            return false;
        }
    }

    private bool FirstTimeForInstance(string? instance)
    {
        if (string.IsNullOrEmpty(instance))
        {
            return true;
        }
        lock (_instances)
        {
            if (_instances.Contains(instance))
            {
                return false;
            }
            _instances.Enqueue(instance);
            if (_instances.Count > InstancesKept)
            {
                _instances.Dequeue();
            }
            return true;
        }
    }

    private void MaybeExpire(long now)
    {
        // postgrey: at most every 23 h, and only between 02:00 and 06:59 local time when mail is quiet.
        if (now < Interlocked.Read(ref _nextExpiry))
        {
            return;
        }
        int hour = TimeZoneInfo.ConvertTime(_time.GetUtcNow(), _time.LocalTimeZone).Hour;
        if (hour is < 2 or > 6 || Interlocked.CompareExchange(ref _expiring, 1, 0) != 0)
        {
            return;
        }
        Interlocked.Exchange(ref _nextExpiry, now + _options.ExpiryIntervalSeconds);
        _ = Task.Run(async () =>
        {
            try
            {
                await ExpireAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.ExpiryFailed(_logger, ex);
            }
            finally
            {
                Volatile.Write(ref _expiring, 0);
            }
        });
    }

    private static string FormatDate(TimeProvider time)
    {
        // postgrey writes strftime("%a, %d %b %Y %T %Z", localtime); the zone is written as a numeric offset
        // (RFC 5322 §3.3) because zone abbreviations are not portable.
        DateTimeOffset local = TimeZoneInfo.ConvertTime(time.GetUtcNow(), time.LocalTimeZone);
        string offset = (local.Offset < TimeSpan.Zero ? "-" : "+") + local.Offset.ToString("hhmm", CultureInfo.InvariantCulture);
        return local.ToString("ddd, dd MMM yyyy HH:mm:ss ", CultureInfo.InvariantCulture) + offset;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6201, Message = "action={Action}, reason={Reason}, client_name={ClientName}, client_address={ClientAddress}, sender={Sender}, recipient={Recipient}")]
        public static partial void Decision(ILogger logger, LogLevel level, string action, string reason, string clientName, string clientAddress, string sender, string recipient);

        [LoggerMessage(EventId = 6202, Message = "action=pass, reason={Reason}, delay={Delay}, client_name={ClientName}, client_address={ClientAddress}, sender={Sender}, recipient={Recipient}")]
        public static partial void FirstPass(ILogger logger, LogLevel level, string reason, long delay, string clientName, string clientAddress, string sender, string recipient);

        [LoggerMessage(EventId = 6203, Level = LogLevel.Information, Message = "whitelisted: {ClientName}[{ClientAddress}] after {Count} passes")]
        public static partial void AutoWhitelisted(ILogger logger, string clientName, string clientAddress, int count);

        [LoggerMessage(EventId = 6204, Level = LogLevel.Warning, Message = "Greylist whitelist: {Problem}")]
        public static partial void WhitelistProblem(ILogger logger, string problem);

        [LoggerMessage(EventId = 6205, Level = LogLevel.Information, Message = "Greylist whitelists loaded: {Clients} client entries, {Recipients} recipient entries")]
        public static partial void WhitelistsLoaded(ILogger logger, int clients, int recipients);

        [LoggerMessage(EventId = 6206, Level = LogLevel.Warning, Message = "Greylist exemption {Exemption} failed; greylisting the client")]
        public static partial void ExemptionFailed(ILogger logger, string exemption, Exception exception);

        [LoggerMessage(EventId = 6207, Level = LogLevel.Information, Message = "Greylist expiry removed {Removed} records")]
        public static partial void Expired(ILogger logger, int removed);

        [LoggerMessage(EventId = 6208, Level = LogLevel.Error, Message = "Greylist expiry failed")]
        public static partial void ExpiryFailed(ILogger logger, Exception exception);
    }
}
