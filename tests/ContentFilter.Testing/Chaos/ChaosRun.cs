using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ContentFilter.Checks.Dkim;
using ContentFilter.Protocols.Mime;
using ContentFilter.Testing.Daemons;
using ContentFilter.Testing.Messages;
using ContentFilter.Testing.Smtp;

namespace ContentFilter.Testing.Chaos;

/// <summary>
/// The chaos run of issue 8: mail of mixed sizes through a real front Postfix (<c>content_filter</c>) → the real
/// contentfilter process → a second Postfix (the next hop, delivering into a maildir), while the filter is
/// SIGKILLed and restarted, clamd and the next hop are stopped, and the spool disk fills up. Afterwards
/// <c>postfix flush</c> until both queues are empty, then every delivered file is compared with what was sent.
/// With <see cref="ChaosDoor.Milter"/> the front Postfix asks the filter's milter instead (<c>smtpd_milters</c>,
/// tempfail by default) and relays to the next hop itself.
/// </summary>
/// <remarks>
/// Shared by the reduced run in the test suite (Reliability/ChaosTests) and the full run of <c>scripts/chaos</c>
/// (tests/ContentFilter.Chaos): one driver, different <see cref="ChaosOptions"/>. Faults fire one after the other at
/// even steps of progress (deliveries; messages answered at the milter door), so each one hits a filter that is busy. Needs root (Postfix masters, tmpfs).
/// </remarks>
public sealed partial class ChaosRun : IAsyncDisposable
{
    private const string Sender = "chaos-sender@dest.test"; // bounces would come back into the maildir and be seen
    private const string Recipient = "user@dest.test";
    private static readonly IReadOnlyList<string> s_filterFields = ["X-Virus-Scanned", "Authentication-Results", "X-Spam-Status"];
    private readonly ChaosOptions _options;
    private readonly ChaosMessageFactory _factory;
    private readonly ChaosReport _report;
    private readonly ConcurrentDictionary<int, SentMessage> _sent = new();
    private readonly List<RssSampler> _samplers = new();
    private readonly DateTime _start = DateTime.UtcNow;
    private ClamdInstance? _clamd;
    private PostfixInstance? _front;
    private PostfixInstance? _back;
    private ContentFilterProcess? _filter;
    private TmpfsMount? _spoolMount;
    private string? _milter;
    private int _answered;

    private ChaosRun(ChaosOptions options)
    {
        _options = options;
        string runId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        _factory = new ChaosMessageFactory(runId, options);
        _report = new ChaosReport { RunId = runId, Started = DateTimeOffset.UtcNow, Options = options };
    }

    private sealed record SentMessage(int Index, string QueueId, ChaosMessageKind Kind, long Length, byte[] LfSha256);

    /// <summary>Runs the whole thing and returns the figures (<see cref="ChaosReport.Passed"/> says whether the invariants held).</summary>
    public static async Task<ChaosReport> RunAsync(ChaosOptions options, CancellationToken cancellationToken = default)
    {
        PostfixInstance.SkipUnlessAvailable();
        await using var run = new ChaosRun(options);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.RunTimeout);
        try
        {
            await run.ExecuteAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            run.Log("run deadline passed: analysing what there is");
            await run.CountStillQueuedAsync();
            await run.AnalyseAsync();
            run._report.Problems.Add($"the run did not finish within {options.RunTimeout.TotalMinutes:0.#} min");
        }
        run._report.Duration = DateTime.UtcNow - run._start;
        return run._report;
    }

    /// <summary>Stops everything this run started (filter, Postfix instances, clamd) and unmounts the spool.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (RssSampler s in _samplers)
        {
            await s.DisposeAsync();
        }
        if (_filter is not null)
        {
            await _filter.StopAsync(TimeSpan.FromSeconds(20));
            if (_spoolMount is not null)
            {
                await _spoolMount.DisposeAsync();
            }
            await _filter.DisposeAsync();
        }
        if (_front is not null)
        {
            await _front.DisposeAsync();
        }
        if (_back is not null)
        {
            await _back.DisposeAsync();
        }
        if (_clamd is not null)
        {
            await _clamd.DisposeAsync();
        }
        _factory.Dispose();
    }

    private async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        await StartPeersAsync(cancellationToken);
        Log($"run {_report.RunId}: {_options.Messages} messages of {_options.MinSize}..{_options.MaxSize} bytes, {_options.Sessions} sessions; " +
            (_options.Door == ChaosDoor.Milter
                ? $"front smtpd :{_front!.SmtpPort} (milter {_milter}) -> next hop :{_back!.ReinjectPort}"
                : $"front smtpd :{_front!.SmtpPort} -> filter :{_filter!.InboundPort} -> next hop :{_back!.ReinjectPort}"));

        Task sending = SendAllAsync(cancellationToken);
        Task faults = InjectFaultsAsync(sending, cancellationToken);
        await Task.WhenAll(sending, faults);
        _report.LoadDuration = DateTime.UtcNow - _start;
        Log($"sending and faults done after {_report.LoadDuration.TotalSeconds:0} s: {_report.Accepted} accepted, {CountDelivered()} delivered; draining");

        DateTime drainStart = DateTime.UtcNow;
        await DrainAsync(cancellationToken);
        _report.DrainDuration = DateTime.UtcNow - drainStart;
        await AnalyseAsync();
    }

    private async Task StartPeersAsync(CancellationToken cancellationToken)
    {
        if (_options.Antivirus)
        {
            _clamd = await ClamdInstance.StartAsync();
        }
        _back = await PostfixInstance.StartAsync(Postfix(new PostfixOptions { ReinjectionListener = true, HostName = "mx2.postfix.test" }), cancellationToken);
        _filter = new ContentFilterProcess(_back.ReinjectPort, binary: _options.FilterBinary);
        _filter.Set("Logging:Level", "Information")
               .Set("Limits:MaxMessageSize", 52_428_800)
               .Set("NextHop:ConnectTimeoutSeconds", 5);
        if (_clamd is not null)
        {
            _filter.Set("Antivirus:Enabled", true)
                   .Set("Antivirus:Servers", new JsonArray(_clamd.UnixAddress))
                   .Set("Antivirus:ConnectTimeout", "00:00:02")
                   .Set("Antivirus:Timeout", "00:00:30");
        }
        Directory.CreateDirectory(_filter.SpoolDirectory);
        if (_options.SpoolTmpfsMegabytes > 0)
        {
            _spoolMount = await TmpfsMount.MountAsync(_filter.SpoolDirectory, _options.SpoolTmpfsMegabytes * 1024, cancellationToken);
        }
        PostfixOptions front;
        if (_options.Door == ChaosDoor.Milter)
        {
            // As docs/deployment.md has it: a milter that is not there must not let mail through unscanned. The
            // front Postfix is not the final destination; it relays dest.test to the next hop.
            _milter = "127.0.0.1:" + TestPaths.FreePorts(1)[0].ToString(CultureInfo.InvariantCulture);
            _filter.Set("Listeners:milter", new JsonObject { ["Enabled"] = true, ["Endpoint"] = _milter, ["Protocol"] = "Milter", ["Direction"] = "Inbound" });
            front = new PostfixOptions { HostName = "mx1.postfix.test", Domain = "front.test" };
            front.MainCf.Add($"smtpd_milters = inet:{_milter}");
            front.MainCf.Add("milter_default_action = tempfail");
            front.MainCf.Add("relay_domains = dest.test");
            front.MainCf.Add($"transport_maps = inline:{{dest.test=smtp:[127.0.0.1]:{_back.ReinjectPort.ToString(CultureInfo.InvariantCulture)}}}");
        }
        else
        {
            front = new PostfixOptions { ContentFilterPort = _filter.InboundPort, HostName = "mx1.postfix.test" };
        }
        front.MainCf.Add("in_flow_delay = 0s"); // the sender measures the filter, not smtpd's inflow throttle
        _front = await PostfixInstance.StartAsync(Postfix(front), cancellationToken);
        await StartFilterAsync(cancellationToken);
    }

    private PostfixOptions Postfix(PostfixOptions o)
    {
        o.MessageSizeLimit = Math.Max(10_240_000, _options.MaxSize * 2L);
        o.QueueRunDelay = _options.RetryDelay;
        o.MinimalBackoffTime = _options.RetryDelay;
        o.MaximalBackoffTime = _options.MaximalBackoff;
        return o;
    }

    private async Task StartFilterAsync(CancellationToken cancellationToken)
    {
        await _filter!.StartAsync(cancellationToken);
        _samplers.Add(_filter.StartRssSampler(TimeSpan.FromMilliseconds(100)));
        _report.FilterStarts++;
    }

    private async Task SendAllAsync(CancellationToken cancellationToken)
    {
        int next = -1;
        var workers = Enumerable.Range(0, Math.Max(1, _options.Sessions)).Select(_ => Task.Run(async () =>
        {
            RawSmtpClient? client = null;
            int onConnection = 0;
            try
            {
                int index;
                while ((index = Interlocked.Increment(ref next)) < _options.Messages)
                {
                    byte[] message = _factory.Create(index);
                    ChaosMessageKind kind = _factory.KindOf(index);
                    string? queueId = null;
                    bool refused = false;
                    // A sending MTA's retries, compressed: after a 4xx or a lost connection, a new connection a
                    // second later (Postfix's smtpd applies a failed milter's default action to the rest of the
                    // session), until the budget is spent; a 5xx is final.
                    DateTime giveUp = DateTime.UtcNow + _options.SenderRetryBudget;
                    for (int attempt = 0; queueId is null && !refused && (attempt < 5 || DateTime.UtcNow < giveUp); attempt++)
                    {
                        try
                        {
                            if (client is null || onConnection >= 50)
                            {
                                if (client is not null)
                                {
                                    await client.QuitAsync(cancellationToken);
                                    await client.DisposeAsync();
                                    client = null;
                                }
                                (client, SmtpReply greeting) = await RawSmtpClient.ConnectAsync(_front!.SmtpPort, cancellationToken);
                                onConnection = 0;
                                if (greeting.Code != 220)
                                {
                                    throw new IOException("greeting " + greeting);
                                }
                                await client.EhloAsync("sender.chaos.test", cancellationToken);
                            }
                            onConnection++;
                            SmtpReply reply = await client.SendMailAsync(Sender, [Recipient], message,
                                kind.HasFlag(ChaosMessageKind.EightBit) ? "BODY=8BITMIME" : null, cancellationToken);
                            if (reply.Code == 250 && QueuedAs().Match(reply.Text) is { Success: true } m)
                            {
                                queueId = m.Groups[1].Value;
                            }
                            else
                            {
                                Log($"message {index}: front Postfix answered {reply}");
                                Refusal(reply);
                                refused = reply.Code >= 500;
                                await client.QuitAsync(cancellationToken);
                                await client.DisposeAsync();
                                client = null;
                                if (!refused)
                                {
                                    await Task.Delay(1000, cancellationToken);
                                }
                            }
                        }
                        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
                        {
                            Log($"message {index}: {ex.GetType().Name}: {ex.Message}; reconnecting");
                            if (client is not null)
                            {
                                await client.DisposeAsync();
                                client = null;
                            }
                            await Task.Delay(1000, cancellationToken);
                        }
                    }
                    Interlocked.Increment(ref _answered);
                    if (queueId is null)
                    {
                        lock (_report)
                        {
                            _report.NotAccepted++;
                            if (refused && kind.HasFlag(ChaosMessageKind.Virus))
                            {
                                _report.VirusesRejected++;
                            }
                            else if (refused)
                            {
                                _report.CleanRejected.Add(index);
                            }
                        }
                        continue;
                    }
                    byte[] lf = DeliveredMessage.ToLf(message);
                    _sent[index] = new SentMessage(index, queueId, kind, message.Length, SHA256.HashData(lf));
                    lock (_report)
                    {
                        _report.Accepted++;
                        _report.BytesAccepted += message.Length;
                        _report.LargestMessage = Math.Max(_report.LargestMessage, message.Length);
                        _report.EightBit += kind.HasFlag(ChaosMessageKind.EightBit) ? 1 : 0;
                        _report.Signed += kind.HasFlag(ChaosMessageKind.Signed) ? 1 : 0;
                        _report.Viruses += kind.HasFlag(ChaosMessageKind.Virus) ? 1 : 0;
                        _report.Spooled += message.Length > 262_144 ? 1 : 0;
                    }
                }
            }
            finally
            {
                if (client is not null)
                {
                    await client.DisposeAsync();
                }
            }
        }, cancellationToken)).ToList();
        await Task.WhenAll(workers);
        Log($"sent: {_report.Accepted} accepted by the front Postfix, {_report.NotAccepted} not, {_report.BytesAccepted / 1048576.0:0.0} MiB");
    }

    /// <summary>The faults, interleaved (kill, outage, kill, outage ...), each fired when delivery reaches its share of the messages.</summary>
    private async Task InjectFaultsAsync(Task sending, CancellationToken cancellationToken)
    {
        var outages = new List<(string Name, Func<CancellationToken, Task> Run)>();
        if (_options.ClamdOutage is TimeSpan clamdDown && _clamd is not null)
        {
            outages.Add(("clamd outage", ct => ClamdOutageAsync(clamdDown, ct)));
        }
        if (_options.NextHopOutage is TimeSpan hopDown)
        {
            outages.Add(("next-hop outage", ct => NextHopOutageAsync(hopDown, ct)));
        }
        if (_options.SpoolFull is TimeSpan full && _spoolMount is not null)
        {
            outages.Add(("spool disk full", ct => SpoolFullAsync(full, ct)));
        }
        var events = new List<(string Name, Func<CancellationToken, Task> Run)>();
        for (int i = 0; i < Math.Max(_options.Kills, outages.Count); i++)
        {
            if (i < _options.Kills)
            {
                events.Add(("SIGKILL", KillAndRestartAsync));
            }
            if (i < outages.Count)
            {
                events.Add(outages[i]);
            }
        }
        // The proxy acts after the queue, so its faults are timed by deliveries; the milter acts while the sender
        // waits, so its faults are timed by messages answered (on a fast machine the last delivery can come after
        // the last message was sent, and a fault timed by deliveries would hit nothing).
        bool milter = _options.Door == ChaosDoor.Milter;
        int expected = milter ? _options.Messages : ExpectedDeliveries();
        Func<int> progress = milter ? () => Volatile.Read(ref _answered) : CountDelivered;
        string unit = milter ? "messages answered" : "deliveries";
        for (int e = 0; e < events.Count; e++)
        {
            int threshold = (int)((long)expected * (e + 1) / (events.Count + 1));
            await Poll.UntilAsync(() => progress() >= threshold, _options.RunTimeout, $"{threshold} {unit} before the {events[e].Name}", TimeSpan.FromMilliseconds(100), cancellationToken);
            await events[e].Run(cancellationToken);
        }
        await sending;
    }

    private int ExpectedDeliveries() => Enumerable.Range(0, _options.Messages).Count(i => !_factory.KindOf(i).HasFlag(ChaosMessageKind.Virus));

    private async Task KillAndRestartAsync(CancellationToken cancellationToken)
    {
        int? pid = _filter!.Pid;
        int delivered = CountDelivered();
        _filter.Kill();
        Fault($"SIGKILL of the filter (pid {pid}) after {delivered} deliveries, restarted {_options.DeadTime.TotalSeconds:0.#} s later");
        await Task.Delay(_options.DeadTime, cancellationToken);
        await StartFilterAsync(cancellationToken);
    }

    private async Task ClamdOutageAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        Fault($"clamd stopped for {duration.TotalSeconds:0} s after {CountDelivered()} deliveries");
        await _clamd!.StopAsync();
        await Task.Delay(duration, cancellationToken);
        await _clamd.RestartAsync();
        Log("clamd is back");
    }

    private async Task NextHopOutageAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        Fault($"next hop (second Postfix) stopped for {duration.TotalSeconds:0} s after {CountDelivered()} deliveries");
        await _back!.StopAsync();
        await Task.Delay(duration, cancellationToken);
        await _back.StartAsync(cancellationToken);
        Log("next hop is back");
    }

    private async Task SpoolFullAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        long written = _spoolMount!.FillToTheLastByte();
        Fault($"spool tmpfs filled ({written / 1048576.0:0.0} MiB written) for {duration.TotalSeconds:0} s after {CountDelivered()} deliveries");
        try
        {
            await Task.Delay(duration, cancellationToken);
        }
        finally
        {
            _spoolMount.Free();
        }
        Log("spool has room again");
    }

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        DateTime deadline = DateTime.UtcNow + _options.DrainTimeout;
        while (true)
        {
            int front = (await _front!.ListQueueAsync()).Count;
            int back = (await _back!.ListQueueAsync()).Count;
            if (front == 0 && back == 0)
            {
                Log($"queues empty after {(DateTime.UtcNow - (deadline - _options.DrainTimeout)).TotalSeconds:0} s of draining");
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                _report.StillQueued = front + back;
                Log($"drain deadline passed with {front} + {back} messages queued");
                return;
            }
            Log($"draining: {front} queued at the front, {back} at the next hop, {CountDelivered()} delivered; postfix flush");
            await _front.FlushAsync();
            await _back.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
        }
    }

    private async Task CountStillQueuedAsync()
    {
        if (_front is not null && _back is not null)
        {
            _report.StillQueued = (await _front.ListQueueAsync()).Count + (await _back.ListQueueAsync()).Count;
        }
    }

    private async Task AnalyseAsync()
    {
        if (_back is null || _front is null || _filter is null)
        {
            return;
        }
        var copies = new Dictionary<int, List<string>>();
        IReadOnlyList<string> files = _back.DeliveredFiles();
        _report.DeliveredFiles = files.Count;
        foreach (string file in files)
        {
            byte[] bytes = File.ReadAllBytes(file);
            if (_factory.IndexOf(bytes) is int index)
            {
                if (!copies.TryGetValue(index, out List<string>? list))
                {
                    copies[index] = list = new List<string>();
                }
                list.Add(file);
            }
            else
            {
                string head = Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 2000));
                string subject = head.Split('\n').FirstOrDefault(l => l.StartsWith("Subject:", StringComparison.OrdinalIgnoreCase)) ?? "(no subject)";
                _report.Foreign.Add($"{Path.GetFileName(file)}: {subject.Trim()}");
            }
        }

        string frontLog = _front.ReadLog();
        string backLog = _back!.ReadLog();
        var verifier = new DkimVerifier(new DkimKeyLookup(new DictionaryDnsResolver().AddTxt($"{ChaosMessageFactory.Selector}._domainkey.{ChaosMessageFactory.SigningDomain}", _factory.SigningKey.DnsRecord())),
            new DkimOptions(), TimeProvider.System);
        IReadOnlyList<string> allowed = [.. DeliveredMessage.PostfixTraceFields, .. s_filterFields];
        foreach (SentMessage sent in _sent.Values.OrderBy(s => s.Index))
        {
            List<string> delivered = copies.GetValueOrDefault(sent.Index) ?? [];
            string messageId = _factory.MessageId(sent.Index);
            if (sent.Kind.HasFlag(ChaosMessageKind.Virus))
            {
                _report.VirusesDelivered += delivered.Count;
                continue;
            }
            if (delivered.Count == 0)
            {
                if (_report.StillQueued == 0)
                {
                    _report.Lost.Add(sent.Index);
                }
                continue;
            }
            _report.Delivered++;
            if (delivered.Count > 1)
            {
                ChaosDuplicate duplicate = Classify(sent, messageId, delivered.Count, frontLog, FrontTransport);
                if (duplicate.Cause == ChaosDuplicateCause.Unexplained)
                {
                    // Evidence for whoever reads the failure: how often the filter relayed it, and what the next hop
                    // logged for it (its queue ids and their lines, and its stops and starts around them).
                    duplicate = duplicate with { Evidence = duplicate.Evidence + "; " + DownstreamEvidence(messageId, backLog) };
                }
                _report.Duplicates.Add(duplicate);
            }
            byte[] original = _factory.Create(sent.Index);
            int lfLength = DeliveredMessage.ToLf(original).Length;
            foreach (string file in delivered)
            {
                byte[] bytes = File.ReadAllBytes(file);
                DeliveryComparison c = DeliveredMessage.Compare(original, bytes, allowed);
                // The recorded hash of what was sent, against the delivered bytes under the added header fields.
                byte[] tailHash = bytes.Length >= lfLength ? SHA256.HashData(bytes.AsSpan(bytes.Length - lfLength)) : [];
                if (!c.Intact || !tailHash.AsSpan().SequenceEqual(sent.LfSha256))
                {
                    _report.Altered.Add(new ChaosAlteration(sent.Index, messageId, c.Problem ?? "the recorded SHA-256 of the sent bytes does not match the delivered tail"));
                }
                if (_options.Antivirus && !c.AddedFields.Any(f => f.StartsWith("X-Virus-Scanned: ContentFilter at ", StringComparison.OrdinalIgnoreCase)))
                {
                    _report.Unscanned.Add(sent.Index);
                }
                foreach (string field in c.AddedFields)
                {
                    string name = field[..Math.Max(0, field.IndexOf(':'))];
                    _report.AddedFields[name] = _report.AddedFields.GetValueOrDefault(name) + 1;
                }
            }
            if (sent.Kind.HasFlag(ChaosMessageKind.Signed))
            {
                _report.DkimChecked++;
                if (await VerifiesAsync(verifier, File.ReadAllBytes(delivered[0])))
                {
                    _report.DkimPass++;
                }
            }
        }

        foreach (Match m in FilterDeferral().Matches(frontLog))
        {
            string reason = Mask(m.Groups[1].Value);
            _report.Deferrals[reason] = _report.Deferrals.GetValueOrDefault(reason) + 1;
        }
        IReadOnlyList<JsonObject> audit = _filter.AuditRecords();
        _report.AuditRecords = audit.Count;
        var blocked = new HashSet<string>(audit.Where(r => r["Disposition"]?.GetValue<string>() == "Blocked").Select(r => r["MessageId"]?.GetValue<string>() ?? string.Empty));
        _report.VirusesBlocked = _sent.Values.Count(s => s.Kind.HasFlag(ChaosMessageKind.Virus) && blocked.Contains(_factory.MessageId(s.Index)));
        string filterLog = ReadAll(_filter.StdoutFile) + ReadAll(_filter.StderrFile);
        _report.SpoolFullErrors = filterLog.Split('\n').Count(l => l.Contains("No space left on device", StringComparison.Ordinal));
        _report.SpoolLeftovers = _filter.SpoolFiles().Count(f => f.Name != "chaos-fill");
        foreach (RssSampler s in _samplers)
        {
            _report.PeakRssBytes = Math.Max(_report.PeakRssBytes, s.PeakBytes);
        }
        _report.Evaluate();
    }

    /// <summary>The front Postfix's service that hands mail on: the filter transport (proxy), or plain smtp to the next hop (milter).</summary>
    private string FrontTransport => _options.Door == ChaosDoor.Milter ? "/smtp[" : "/cfilter/";

    private static ChaosDuplicate Classify(SentMessage sent, string messageId, int count, string frontLog, string transport)
    {
        List<string> lines = frontLog.Split('\n')
            .Where(l => l.Contains($" {sent.QueueId}: to=", StringComparison.Ordinal) && l.Contains(transport, StringComparison.Ordinal) && l.Contains("status=deferred", StringComparison.Ordinal))
            .ToList();
        string? endOfData = lines.FirstOrDefault(l => l.Contains("while sending end of data", StringComparison.Ordinal));
        if (endOfData is not null)
        {
            return new ChaosDuplicate(sent.Index, messageId, sent.QueueId, count, ChaosDuplicateCause.FilterDiedAfterNextHopAccepted, Reason(endOfData));
        }
        string? fromMta = lines.FirstOrDefault(l => l.Contains("from MTA(", StringComparison.Ordinal));
        if (fromMta is not null)
        {
            return new ChaosDuplicate(sent.Index, messageId, sent.QueueId, count, ChaosDuplicateCause.NextHopDiedAfterAccepting, Reason(fromMta));
        }
        return new ChaosDuplicate(sent.Index, messageId, sent.QueueId, count, ChaosDuplicateCause.Unexplained,
            lines.Count == 0 ? "no deferral logged for it at the filter" : string.Join(" / ", lines.Select(Reason)));
    }

    /// <summary>The filter's audit records for <paramref name="messageId"/> and the next hop's log lines for its queue ids.</summary>
    private string DownstreamEvidence(string messageId, string backLog)
    {
        List<string> dispositions = _filter!.AuditRecords()
            .Where(r => r["MessageId"]?.GetValue<string>() == messageId)
            .Select(r => r["Disposition"]?.GetValue<string>() ?? "?")
            .ToList();
        string[] lines = backLog.Split('\n');
        var queueIds = lines.Where(l => l.Contains($"message-id={messageId}", StringComparison.Ordinal))
            .Select(l => Regex.Match(l, @"\]: ([0-9A-F]{6,}): ").Groups[1].Value)
            .Where(id => id.Length > 0)
            .ToHashSet(StringComparer.Ordinal);
        var relevant = lines.Where(l => queueIds.Any(id => l.Contains($" {id}: ", StringComparison.Ordinal))
                || l.Contains("terminating on signal", StringComparison.Ordinal)
                || l.Contains("daemon started", StringComparison.Ordinal))
            .Select(l => l.Trim());
        return $"filter audit records for it: {dispositions.Count} ({string.Join(", ", dispositions)}); "
            + $"next hop queue ids {string.Join(", ", queueIds)}: " + string.Join(" | ", relevant);
    }

    private static async Task<bool> VerifiesAsync(DkimVerifier verifier, byte[] deliveredLf)
    {
        byte[] crlf = ToCrlf(deliveredLf);
        List<HeaderField> fields = HeaderSectionReader.Read(crlf, 0, out int consumed, out _);
        int bodyStart = Math.Min(crlf.Length, consumed + 2);
        using var body = new MemoryStream(crlf, bodyStart, crlf.Length - bodyStart, writable: false);
        IReadOnlyList<DkimResult> results = await verifier.VerifyAsync(fields, body, CancellationToken.None);
        return results.Count > 0 && results.All(r => r.Passed);
    }

    private static byte[] ToCrlf(byte[] lf)
    {
        using var output = new MemoryStream(lf.Length + lf.Length / 40);
        foreach (byte b in lf)
        {
            if (b == (byte)'\n')
            {
                output.WriteByte((byte)'\r');
            }
            output.WriteByte(b);
        }
        return output.ToArray();
    }

    private static string Reason(string line)
    {
        int i = line.IndexOf("status=deferred", StringComparison.Ordinal);
        return i < 0 ? line : line[i..];
    }

    private static string Mask(string reason) => MaskIds().Replace(reason, m => m.Value.StartsWith("id=", StringComparison.Ordinal) ? "id=*" : "*");

    private static string ReadAll(string file)
    {
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    private int CountDelivered()
    {
        string dir = Path.Combine(_back!.Maildir, "new");
        return Directory.Exists(dir) ? Directory.EnumerateFiles(dir).Count() : 0;
    }

    private void Refusal(SmtpReply reply)
    {
        string text = Mask(reply.ToString());
        lock (_report)
        {
            _report.Refusals[text] = _report.Refusals.GetValueOrDefault(text) + 1;
        }
    }

    private void Fault(string what)
    {
        string line = $"+{(DateTime.UtcNow - _start).TotalSeconds:0} s {what}";
        lock (_report)
        {
            _report.Faults.Add(line);
        }
        Log("FAULT " + line);
    }

    private void Log(string line) => _options.Log($"[chaos {(DateTime.UtcNow - _start).TotalSeconds.ToString("0", CultureInfo.InvariantCulture),5} s] {line}");

    [GeneratedRegex(@"queued as ([0-9A-Za-z]+)")]
    private static partial Regex QueuedAs();

    [GeneratedRegex(@"postfix/cfilter/smtp\[\d+\]: [0-9A-Za-z]+: to=<[^>]*>,.*? status=deferred \((.*)\)\s*$", RegexOptions.Multiline)]
    private static partial Regex FilterDeferral();

    [GeneratedRegex(@"id=[^\s,)]+|\b[0-9A-Z]{10,}\b|\b[0-9A-F]{6,}\b|\d+\.\d+\.\d+\.\d+\]:\d+|\b\d{4,5}\b")]
    private static partial Regex MaskIds();
}
