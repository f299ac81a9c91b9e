using ContentFilter.Frontends.SmtpProxy;
using ContentFilter.Frontends.Transport;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;
using ContentFilter.Pipeline.Verdicts;
using ContentFilter.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Frontends.Tests.SmtpProxy;

/// <summary>Builds a proxy door with fakes around it and connects in-memory clients to it.</summary>
internal sealed class ProxyHarness : IAsyncDisposable
{
    private readonly List<(InMemoryConnection Connection, Task Session)> _sessions = new();

    public ProxyHarness()
    {
        SpoolDirectory = Path.Combine(Path.GetTempPath(), "cf-smtp-tests-" + Guid.NewGuid().ToString("N")[..8]);
        Spool = new SpoolOptions { Directory = SpoolDirectory, InMemoryThreshold = 4096 };
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 24, 8, 0, 0, TimeSpan.Zero));

    public FakeNextHop NextHop { get; } = new();

    public FakeDsnSender Dsn { get; } = new();

    public FakeQuarantine Quarantine { get; } = new();

    public ListAuditSink Audit { get; } = new();

    public List<ICheck> Checks { get; } = new();

    public VerdictPolicyOptions Policy { get; } = new() { HostName = "filter.test" };

    public SmtpProxyOptions Options { get; } = new() { HostName = "filter.test" };

    public ListenerOptions Listener { get; } = new() { Name = "inbound", Endpoint = "127.0.0.1:10024" };

    public string SpoolDirectory { get; }

    public ListLogger<SmtpProxySession> Logger { get; } = new();

    public bool Logged(int eventId) => Logger.Entries.Any(e => e.Id.Id == eventId);

    public ContentFilter.Pipeline.Policy.LocalDomains? LocalDomains { get; set; }

    public SpoolOptions Spool { get; set; }

    public SmtpProxySession CreateDoor()
    {
        var pipeline = new CheckPipeline(Checks, Array.Empty<IMessageFinisher>(), () => new VerdictPolicy(Policy), Time, TimeSpan.FromSeconds(30), NullLogger<CheckPipeline>.Instance);
        return new SmtpProxySession(Options, Listener, pipeline, NextHop, Dsn, Quarantine, Audit, Spool, Time, Logger, LocalDomains);
    }

    /// <summary>Connects a client and reads the greeting.</summary>
    public async Task<Client> ConnectAsync(CancellationToken stopping = default, CancellationToken aborted = default, SmtpProxySession? door = null)
    {
        var connection = new InMemoryConnection("inbound", stopping: stopping);
        door ??= CreateDoor();
        Task session = Task.Run(async () =>
        {
            try
            {
                await door.HandleAsync(connection.Context, aborted);
            }
            finally
            {
                // As the listener does: the transport closes once the handler returns.
                await connection.Context.Transport.Output.CompleteAsync();
            }
        });
        _sessions.Add((connection, session));
        var client = new Client(connection, session);
        client.Greeting = await client.ReadAsync();
        return client;
    }

    /// <summary>Waits (bounded) for a condition that another task makes true, such as a spool file being deleted after the reply.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }
        Assert.True(condition(), what);
    }

    public bool SpoolIsEmpty() => !Directory.Exists(SpoolDirectory) || Directory.GetFiles(SpoolDirectory).Length == 0;

    public async ValueTask DisposeAsync()
    {
        foreach ((InMemoryConnection c, Task s) in _sessions)
        {
            await c.DisposeAsync();
            await s.WaitAsync(TimeSpan.FromSeconds(10));
        }
        if (Directory.Exists(SpoolDirectory))
        {
            Directory.Delete(SpoolDirectory, recursive: true);
        }
    }

    /// <summary>The client end: send lines, read whole replies.</summary>
    internal sealed class Client(InMemoryConnection connection, Task session)
    {
        private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

        public InMemoryConnection Connection { get; } = connection;

        public Task Session { get; } = session;

        public string Greeting { get; set; } = string.Empty;

        public Task SendAsync(string raw) => Connection.SendAsync(raw);

        /// <summary>One reply, lines joined with '\n'.</summary>
        public async Task<string> ReadAsync()
        {
            using var cts = new CancellationTokenSource(Patience);
            return string.Join("\n", await Connection.ReadReplyAsync(cts.Token));
        }

        public async Task<string> CommandAsync(string line)
        {
            await SendAsync(line + "\r\n");
            return await ReadAsync();
        }

        /// <summary>EHLO, MAIL, RCPTs and DATA, asserting each is accepted.</summary>
        public async Task BeginAsync(string from, params string[] rcpts)
        {
            Assert.StartsWith("250", await CommandAsync("EHLO upstream.test"));
            Assert.StartsWith("250", await CommandAsync($"MAIL FROM:<{from}>"));
            foreach (string r in rcpts)
            {
                Assert.StartsWith("250", await CommandAsync($"RCPT TO:<{r}>"));
            }
            Assert.StartsWith("354", await CommandAsync("DATA"));
        }

        /// <summary>Sends the raw (already dot-stuffed) data plus the terminator, returns the final reply.</summary>
        public async Task<string> SendDataAsync(string stuffedBody)
        {
            await SendAsync(stuffedBody + ".\r\n");
            return await ReadAsync();
        }

        /// <summary>True when the server closed its side.</summary>
        public async Task<bool> IsClosedAsync()
        {
            using var cts = new CancellationTokenSource(Patience);
            return await Connection.ReadLineAsync(cts.Token) is null;
        }
    }
}
