using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using ContentFilter.Frontends.Milter;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Greylisting;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Quarantine;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Protocols.Milter;
using ContentFilter.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Frontends.Tests.Milter;

/// <summary>The MTA side of an in-memory milter connection: writes commands, reads replies.</summary>
internal sealed class MilterTestClient
{
    private readonly InMemoryConnection _connection;
    private readonly MilterReplyReader _reader = new();

    public MilterTestClient(InMemoryConnection connection)
    {
        _connection = connection;
    }

    public async Task SendAsync(params MilterCommand[] commands)
    {
        foreach (MilterCommand c in commands)
        {
            MilterCommandWriter.Write(c, _connection.ClientOutput);
        }
        await _connection.ClientOutput.FlushAsync();
    }

    public async Task SendRawAsync(byte[] bytes) => await _connection.SendAsync(bytes);

    /// <summary>Reads one reply; null at EOF.</summary>
    public async Task<MilterReply?> ReadAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        PipeReader input = _connection.ClientInput;
        while (true)
        {
            ReadResult result = await input.ReadAsync(cts.Token);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (TryParse(ref buffer, out MilterReply? reply, out MilterError error))
            {
                input.AdvanceTo(buffer.Start);
                return reply;
            }
            Assert.Equal(MilterError.None, error);
            if (result.IsCompleted)
            {
                Assert.True(buffer.IsEmpty, "server closed in the middle of a reply");
                input.AdvanceTo(buffer.End);
                return null;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Reads replies until (and including) a final end-of-message action.</summary>
    public async Task<List<MilterReply>> ReadEndOfMessageAsync()
    {
        var replies = new List<MilterReply>();
        while (true)
        {
            MilterReply reply = await ReadAsync() ?? throw new EndOfStreamException("closed before the final reply");
            replies.Add(reply);
            if (reply.Code is MilterReplyCode.Accept or MilterReplyCode.Continue or MilterReplyCode.Reject or MilterReplyCode.TempFail
                or MilterReplyCode.Discard or MilterReplyCode.ReplyCode or MilterReplyCode.Shutdown)
            {
                return replies;
            }
        }
    }

    /// <summary>True when the server closed its side (EOF) within the timeout.</summary>
    public async Task<bool> ClosedAsync(TimeSpan? timeout = null)
    {
        try
        {
            return await ReadAsync(timeout ?? TimeSpan.FromSeconds(10)) is null;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private bool TryParse(ref ReadOnlySequence<byte> buffer, out MilterReply? reply, out MilterError error)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (_reader.TryRead(ref reader, out MilterReply r, out error))
        {
            buffer = reader.UnreadSequence;
            reply = r;
            return true;
        }
        reply = null;
        return false;
    }

    public Task CompleteAsync() => _connection.CompleteClientAsync();
}

/// <summary>Postfix's packets for a typical session.</summary>
internal static class Postfix
{
    /// <summary>What Postfix 3.x offers: version 6, all actions, all protocol bits.</summary>
    public static MilterCommand.OptNeg Offer { get; } = new(6, (MilterActions)0x1ff, (MilterProtocol)0x1fffff);

    public static byte[] Bytes(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    public static MilterCommand[] Envelope(string from = "<sender@example.com>", params string[] rcpts)
    {
        var list = new List<MilterCommand>
        {
            new MilterCommand.Macro(MilterCommandCode.Connect, [new("j", "mx.example.org"), new("{daemon_name}", "mx.example.org"), new("{client_addr}", "192.0.2.7")]),
            new MilterCommand.Connect("client.example.com", '4', 40000, "192.0.2.7"),
            new MilterCommand.Macro(MilterCommandCode.Helo, []),
            new MilterCommand.Helo("client.example.com"),
            new MilterCommand.Macro(MilterCommandCode.Mail, []),
            new MilterCommand.Mail(from, ["BODY=8BITMIME"]),
        };
        foreach (string r in rcpts.Length == 0 ? ["<rcpt@example.org>"] : rcpts)
        {
            list.Add(new MilterCommand.Macro(MilterCommandCode.Rcpt, [new("i", "4XyZ1234")]));
            list.Add(new MilterCommand.Rcpt(r, []));
        }
        return list.ToArray();
    }

    /// <summary>Headers (values with their leading space, as with HDR_LEADSPC), EOH, body, EOB.</summary>
    public static MilterCommand[] Content(string body = "Hello.\r\n", params (string Name, string Value)[] headers)
    {
        var list = new List<MilterCommand> { new MilterCommand.Macro(MilterCommandCode.Data, [new("i", "4XyZ1234")]) };
        foreach ((string n, string v) in headers.Length == 0 ? [("From", " <sender@example.com>"), ("Subject", " test")] : headers)
        {
            list.Add(new MilterCommand.Macro(MilterCommandCode.Header, [new("i", "4XyZ1234")]));
            list.Add(new MilterCommand.Header(n, Bytes(v)));
        }
        list.Add(new MilterCommand.EndOfHeaders());
        list.Add(new MilterCommand.Body(Bytes(body)));
        list.Add(new MilterCommand.Macro(MilterCommandCode.BodyEob, [new("i", "4XyZ1234")]));
        list.Add(new MilterCommand.BodyEob([]));
        return list.ToArray();
    }
}

/// <summary>A check that answers what the test says and records what it saw.</summary>
internal sealed class FakeCheck(string name, Func<MessageContext, CancellationToken, ValueTask<CheckResult>> run) : ICheck
{
    public string Name { get; } = name;

    public List<byte[]> Spools { get; } = [];

    public List<MessageContext> Contexts { get; } = [];

    public async ValueTask<CheckResult> RunAsync(MessageContext context, CancellationToken cancellationToken)
    {
        using (Stream s = context.Spool.OpenRead())
        using (var copy = new MemoryStream())
        {
            await s.CopyToAsync(copy, cancellationToken);
            Spools.Add(copy.ToArray());
        }
        Contexts.Add(context);
        return await run(context, cancellationToken);
    }

    public static FakeCheck Clean() => new("clamav", (_, _) => ValueTask.FromResult<CheckResult>(new VirusScanResult { Check = "clamav", Status = CheckStatus.Ok }));

    public static FakeCheck Virus(string name = "Eicar-Test-Signature") => new("clamav", (_, _) => ValueTask.FromResult<CheckResult>(new VirusScanResult { Check = "clamav", Status = CheckStatus.Hit, Viruses = [name] }));
}

/// <summary>A finisher that adds the header edits a test wants on delivered mail.</summary>
internal sealed class EditsFinisher(Action<Verdict> edit) : IMessageFinisher
{
    public string Name => "test-edits";

    public ValueTask<CheckResult?> FinishAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken)
    {
        edit(verdict);
        return ValueTask.FromResult<CheckResult?>(null);
    }
}

internal sealed class ListAuditSink : IAuditSink
{
    public ConcurrentQueue<AuditRecord> Records { get; } = new();

    public ConcurrentQueue<GreylistAuditRecord> Greylist { get; } = new();

    public void Write(AuditRecord record) => Records.Enqueue(record);

    public void WriteGreylist(GreylistAuditRecord record) => Greylist.Enqueue(record);
}

internal sealed class FakeGreylist(Func<GreylistRequest, GreylistDecision> decide) : IGreylist
{
    public List<GreylistRequest> Requests { get; } = [];

    public Task<GreylistDecision> CheckAsync(GreylistRequest request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        return Task.FromResult(decide(request));
    }
}

internal sealed class FakeQuarantine(Exception? failure = null) : IQuarantineStore
{
    public List<string> Stored { get; } = [];

    public Task<string> StoreAsync(MessageContext context, Verdict verdict, CancellationToken cancellationToken)
    {
        if (failure is not null)
        {
            return Task.FromException<string>(failure);
        }
        Stored.Add(context.MailId);
        return Task.FromResult("q-" + context.MailId);
    }
}

/// <summary>Builds a session with a real pipeline and policy around fake checks.</summary>
internal sealed class MilterHarness : IDisposable
{
    public MilterHarness(IEnumerable<ICheck>? checks = null, IEnumerable<IMessageFinisher>? finishers = null, MilterOptions? options = null,
        VerdictPolicyOptions? policy = null, TimeProvider? time = null, IGreylist? greylist = null, IQuarantineStore? quarantine = null, Func<VerdictPolicy>? policyFactory = null)
    {
        SpoolDirectory = Directory.CreateTempSubdirectory("cf-milter-test-").FullName;
        Time = time ?? TimeProvider.System;
        var verdictPolicy = new VerdictPolicy(policy ?? new VerdictPolicyOptions { HostName = "mx.example.org", AddVirusScannedHeader = false });
        Pipeline = new CheckPipeline(checks ?? [], finishers ?? [], policyFactory ?? (() => verdictPolicy), Time, TimeSpan.FromMinutes(5), NullLogger<CheckPipeline>.Instance);
        Session = new MilterSession(options ?? new MilterOptions(), Pipeline, new SpoolOptions { Directory = SpoolDirectory, InMemoryThreshold = 1024 }, Audit, Time, Logger,
            greylist: greylist, quarantine: quarantine);
    }

    public string SpoolDirectory { get; }

    public TimeProvider Time { get; }

    public CheckPipeline Pipeline { get; }

    public MilterSession Session { get; }

    public ListAuditSink Audit { get; } = new();

    public ListLogger<MilterSession> Logger { get; } = new();

    /// <summary>Starts a connection: the session runs until the client quits or misbehaves.</summary>
    public (MilterTestClient Client, Task Session, InMemoryConnection Connection) Connect(string listener = "milter")
    {
        var connection = new InMemoryConnection(listener);
        Task run = Task.Run(() => Session.HandleAsync(connection.Context, CancellationToken.None));
        return (new MilterTestClient(connection), run, connection);
    }

    public bool Logged(int eventId) => Logger.Entries.Any(e => e.Id.Id == eventId);

    public void Dispose()
    {
        try
        {
            Directory.Delete(SpoolDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
