using System.Text;
using ContentFilter.Pipeline.Audit;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Delivery;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Quarantine;
using ContentFilter.Pipeline.Verdicts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Pipeline.Tests.Quarantine;

public sealed class QuarantineTests : IDisposable
{
    // Bytes with odd line ends and 8-bit content: a release must give back exactly these.
    private static readonly byte[] Original = Encoding.UTF8.GetBytes("Received: from x\r\nFrom: a@example.org\r\nSubject: caf\u00e9\r\nMessage-ID: <q1@example.org>\r\n\r\nline1\nline2\r\n\r\n.dot\r\n");

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cf-quarantine-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 8, 0, 0, TimeSpan.Zero));
    private readonly FakeNextHop _nextHop = new();
    private readonly List<AuditRecord> _audit = new();

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private FileQuarantineStore Store(int retentionDays = 30) =>
        new(new QuarantineOptions { Directory = Path.Combine(_dir, "q"), RetentionDays = retentionDays }, _time, NullLogger<FileQuarantineStore>.Instance);

    private QuarantineManager Manager(FileQuarantineStore store) =>
        new(store, _nextHop, new SpoolOptions { Directory = Path.Combine(_dir, "spool"), InMemoryThreshold = 16 }, new ListAudit(_audit), _time, NullLogger<QuarantineManager>.Instance);

    private async Task<string> StoreOneAsync(FileQuarantineStore store, int inMemoryThreshold = 1 << 20, string? mailId = null)
    {
        var spool = new MessageSpool(new SpoolOptions { Directory = Path.Combine(_dir, "spool"), InMemoryThreshold = inMemoryThreshold }, MailId.New());
        await spool.WriteAsync(Original, CancellationToken.None);
        await spool.CompleteAsync(CancellationToken.None);
        var envelope = new Envelope { MailFrom = "a@example.org" };
        envelope.MailParameters.Add("BODY=8BITMIME");
        envelope.Recipients.Add(new EnvelopeRecipient("b@example.net", new[] { "NOTIFY=NEVER" }));
        envelope.Recipients.Add(new EnvelopeRecipient("c@example.net", Array.Empty<string>()));
        var context = new MessageContext(mailId ?? MailId.New(), envelope, spool, spool.ReadHeaders(65536), ListenerPolicy.DefaultInbound, FrontDoor.Smtp, _time.GetUtcNow());
        var verdict = new Verdict { Action = VerdictAction.Discard, Category = "INFECTED", CategoryNames = new[] { "Eicar.UNOFFICIAL" }, Quarantine = true };
        try
        {
            return await store.StoreAsync(context, verdict, CancellationToken.None);
        }
        finally
        {
            await spool.DisposeAsync();
        }
    }

    [Fact]
    public async Task Store_RecordCannotBeWritten_ThrowsAndLeavesNeitherMessageNorTemporaryFiles()
    {
        FileQuarantineStore store = Store();
        string id = MailId.New();
        string q = Path.Combine(_dir, "q");
        Directory.CreateDirectory(Path.Combine(q, id + ".json")); // the record's name is taken: its rename fails

        await Assert.ThrowsAnyAsync<IOException>(() => StoreOneAsync(store, mailId: id));

        Assert.Equal(new[] { id + ".json" }, Directory.EnumerateFileSystemEntries(q).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Store_OriginalBytesAndRecord_PrivateModes()
    {
        FileQuarantineStore store = Store();
        string id = await StoreOneAsync(store, inMemoryThreshold: 16);

        Assert.True(MailId.IsValid(id));
        await using (Stream s = store.OpenMessage(id))
        {
            var copy = new MemoryStream();
            await s.CopyToAsync(copy);
            Assert.Equal(Original, copy.ToArray());
        }
        QuarantineRecord r = store.Get(id)!;
        Assert.Equal("INFECTED", r.Category);
        Assert.Equal(new[] { "Eicar.UNOFFICIAL" }, r.Names);
        Assert.Equal(new[] { "b@example.net", "c@example.net" }, r.Recipients.Select(x => x.Address));
        Assert.Equal("<q1@example.org>", r.MessageId);
        Assert.Equal(_time.GetUtcNow(), r.Time);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_dir, "q")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "q", id + ".eml")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "q", id + ".json")));
        }
    }

    [Fact]
    public async Task Release_OriginalEnvelopeAndExactBytes_RecordedAndAudited()
    {
        FileQuarantineStore store = Store();
        string id = await StoreOneAsync(store);

        QuarantineCommandResult result = await Manager(store).ReleaseAsync(id, null, CancellationToken.None);

        Assert.True(result.Success, result.Text);
        Assert.StartsWith($"released {id} to <b@example.net>, <c@example.net>: 250 2.0.0 Ok: queued as ABC", result.Text);
        FakeNextHop.Delivery d = Assert.Single(_nextHop.Deliveries);
        Assert.Equal(Original, d.Bytes);
        Assert.Equal("a@example.org", d.Envelope.MailFrom);
        Assert.Equal(new[] { "BODY=8BITMIME" }, d.Envelope.MailParameters);
        Assert.Equal(new[] { "NOTIFY=NEVER" }, d.Envelope.Recipients[0].Parameters);
        Assert.Single(store.Get(id)!.Releases);
        AuditRecord a = Assert.Single(_audit);
        Assert.Equal("Released", a.Action);
        Assert.Equal(id, a.QuarantineId);
        Assert.Equal("ABC", a.QueuedAs);
    }

    [Fact]
    public async Task Release_RecipientOverride_OnlyThatRecipient()
    {
        FileQuarantineStore store = Store();
        string id = await StoreOneAsync(store);

        await Manager(store).ReleaseAsync(id, new[] { "<admin@example.net>" }, CancellationToken.None);

        Assert.Equal(new[] { "admin@example.net" }, _nextHop.Deliveries.Single().Envelope.Recipients.Select(r => r.Address));
    }

    [Fact]
    public async Task Release_NextHopRefuses_NotSuccessAndSaysSo()
    {
        FileQuarantineStore store = Store();
        string id = await StoreOneAsync(store);
        _nextHop.Final = new Reply(451, "4.3.0", "try later");

        QuarantineCommandResult result = await Manager(store).ReleaseAsync(id, null, CancellationToken.None);

        Assert.False(result.Success);
        Assert.StartsWith("NOT released", result.Text);
        Assert.False(store.Get(id)!.Releases.Single().Accepted);
    }

    [Fact]
    public async Task ListShowDelete_TextForTheCli()
    {
        FileQuarantineStore store = Store();
        string id = await StoreOneAsync(store);
        QuarantineManager m = Manager(store);

        string list = m.List().Text;
        string show = m.Show(id).Text;

        Assert.Contains(id, list);
        Assert.Contains("INFECTED (Eicar.UNOFFICIAL)", list);
        Assert.Contains("1 message(s)", list);
        Assert.Contains("Sender:      <a@example.org>", show);
        Assert.Contains("Subject: café", show);
        Assert.DoesNotContain("line1", show);
        Assert.True(m.Delete(id).Success);
        Assert.False(m.Delete(id).Success);
        Assert.False(m.Show(id).Success);
        Assert.Contains("0 message(s)", m.List().Text);
    }

    [Theory]
    [InlineData("../../etc/pw")]
    [InlineData("short")]
    [InlineData("AAAAAAAAAAA/")]
    public async Task Manager_MalformedIds_NotFoundNeverOutsideDirectory(string id)
    {
        QuarantineManager m = Manager(Store());
        Assert.False(m.Show(id).Success);
        Assert.False(m.Delete(id).Success);
        Assert.False((await m.ReleaseAsync(id, null, CancellationToken.None)).Success);
    }

    [Fact]
    public async Task PurgeExpired_OlderThanRetention_Deleted()
    {
        FileQuarantineStore store = Store(retentionDays: 7);
        string old = await StoreOneAsync(store);
        _time.Advance(TimeSpan.FromDays(5));
        string recent = await StoreOneAsync(store);
        _time.Advance(TimeSpan.FromDays(3));

        int deleted = store.PurgeExpired();

        Assert.Equal(1, deleted);
        Assert.Null(store.Get(old));
        Assert.NotNull(store.Get(recent));
    }

    private sealed class ListAudit(List<AuditRecord> records) : IAuditSink
    {
        public void Write(AuditRecord record) => records.Add(record);
    }

    private sealed class FakeNextHop : INextHop
    {
        public sealed record Delivery(Envelope Envelope, byte[] Bytes);

        public List<Delivery> Deliveries { get; } = new();

        public Reply Final { get; set; } = new(250, "2.0.0", "Ok: queued as ABC");

        public async Task<DeliveryOutcome> DeliverAsync(Envelope envelope, MessageSpool spool, MessageHeaders headers, IReadOnlyList<HeaderEdit> edits, CancellationToken cancellationToken)
        {
            var bytes = new MemoryStream();
            await OutgoingMessage.WriteAsync(spool, headers, edits, bytes, cancellationToken);
            Deliveries.Add(new Delivery(envelope.Clone(), bytes.ToArray()));
            return new DeliveryOutcome
            {
                Recipients = envelope.Recipients.Select(r => new RecipientOutcome(r, Final)).ToList(),
                Final = Final,
                QueuedAs = Final.Code == 250 ? "ABC" : null,
                Peer = "smtp:[127.0.0.1]:10025",
            };
        }
    }
}
