using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using ContentFilter.Pipeline.Audit;
using Microsoft.Extensions.Logging;

namespace ContentFilter.Frontends.Transport;

/// <summary>Binds one listener (TCP or unix socket), accepts connections and hands each to its <see cref="IConnectionHandler"/> over pipes.</summary>
/// <remarks>
/// <para>Before the handler runs, the listener applies the client allow-list (loopback only by default) and the
/// session limit; refused clients hear the protocol's refusal (<see cref="ConnectionRefuser"/>) and are closed.</para>
/// <para>Shutdown has two steps, as in Kestrel: <see cref="StopAsync"/> stops accepting and signals
/// <see cref="ConnectionContext.Stopping"/> so sessions finish their current transaction and say goodbye (421);
/// after the drain timeout the <c>aborted</c> token passed to the handler fires and remaining sockets are closed.
/// Postfix keeps every message we have not answered with 2xx, so an aborted transaction is retried, never lost.</para>
/// <para>To host in-process (tests): bind <c>127.0.0.1:0</c>, call <see cref="Start"/> and read <see cref="LocalEndPoint"/>.</para>
/// </remarks>
public sealed partial class ConnectionListener : IAsyncDisposable
{
    private readonly ListenerOptions _options;
    private readonly ListenEndpoint _endpoint;
    private readonly ClientAllowList _allowList;
    private readonly IConnectionHandler _handler;
    private readonly ConnectionRefuser? _refuser;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborted = new();
    private readonly ConcurrentDictionary<long, (Task Task, Socket Socket)> _sessions = new();
    private Socket? _listenSocket;
    private Task? _acceptLoop;
    private long _nextId;
    private int _active;
    private int _stopped;

    /// <summary>Creates the listener; throws <see cref="InvalidOperationException"/> with every configuration problem.</summary>
    /// <param name="options">The listener's options.</param>
    /// <param name="handler">The protocol door.</param>
    /// <param name="refuser">Says why a client is refused (SMTP); null just closes.</param>
    /// <param name="time">Clock for the drain timeout.</param>
    /// <param name="logger">Logger.</param>
    public ConnectionListener(ListenerOptions options, IConnectionHandler handler, ConnectionRefuser? refuser, TimeProvider time, ILogger<ConnectionListener> logger)
    {
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(Environment.NewLine, errors));
        }
        _options = options;
        _endpoint = ListenEndpoint.Parse(options.Endpoint);
        ClientAllowList.TryParse(options.AllowedClients, out ClientAllowList? allow, out _);
        _allowList = allow!;
        _handler = handler;
        _refuser = refuser;
        _time = time;
        _logger = logger;
    }

    /// <summary>The bound address (with the real port when 0 was configured), or null before <see cref="Start"/>.</summary>
    public EndPoint? LocalEndPoint { get; private set; }

    /// <summary>The listener's name.</summary>
    public string Name => _options.Name;

    /// <summary>True while the accept loop runs (started, not stopped, not died).</summary>
    public bool IsAccepting => _acceptLoop is { IsCompleted: false } && Volatile.Read(ref _stopped) == 0;

    /// <summary>Sessions currently running in the handler.</summary>
    public int ActiveSessions => Volatile.Read(ref _active);

    /// <summary>Binds and starts accepting. Throws <see cref="SocketException"/> or <see cref="IOException"/> when the address cannot be bound.</summary>
    public void Start()
    {
        if (_listenSocket is not null)
        {
            throw new InvalidOperationException("The listener is already started.");
        }
        Socket socket;
        if (_endpoint.IsUnix)
        {
            RemoveStaleUnixSocket(_endpoint.UnixPath!);
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Bind(_endpoint.ToEndPoint());
            // Mode 0660: Postfix (group member) may connect, others may not.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(_endpoint.UnixPath!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            }
        }
        else
        {
            socket = new Socket(_endpoint.Address!.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (_endpoint.Address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (_options.Protocol == ListenerProtocol.Milter)
            {
                ClampMaxSegment(socket, MilterMaxSegment);
            }
            socket.Bind(_endpoint.ToEndPoint());
        }
        socket.Listen(512);
        _listenSocket = socket;
        LocalEndPoint = socket.LocalEndPoint;
        Log.Listening(_logger, _options.Name, _endpoint.IsUnix ? _endpoint.ToString() : LocalEndPoint?.ToString() ?? "?", _options.Protocol);
        _acceptLoop = AcceptLoopAsync(socket);
    }

    /// <summary>Stops accepting, lets sessions finish for up to <paramref name="drainTimeout"/>, then aborts the rest.</summary>
    public async Task StopAsync(TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        CloseListenSocket();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        _stopping.Cancel();
        Task all = Task.WhenAll(_sessions.Values.Select(s => s.Task));
        try
        {
            await all.WaitAsync(drainTimeout, _time, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException)
        {
            Log.DrainTimedOut(_logger, _options.Name, _sessions.Count);
        }
        catch (OperationCanceledException)
        {
        }
        _aborted.Cancel();
        try
        {
            await all.WaitAsync(TimeSpan.FromSeconds(5), _time, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            foreach ((Task _, Socket s) in _sessions.Values)
            {
                s.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
        _aborted.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listen)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await listen.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (Volatile.Read(ref _stopped) != 0 || ex.SocketErrorCode == SocketError.OperationAborted)
            {
                return;
            }
            catch (SocketException ex)
            {
                Log.AcceptFailed(_logger, _options.Name, ex); // e.g. EMFILE: keep listening
                continue;
            }
            long id = Interlocked.Increment(ref _nextId);
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Task task = Task.Run(async () =>
            {
                await started.Task.ConfigureAwait(false);
                await RunConnectionAsync(id, client).ConfigureAwait(false);
            });
            _sessions[id] = (task, client);
            started.SetResult();
            _ = task.ContinueWith(_ => _sessions.TryRemove(id, out (Task, Socket) _), TaskScheduler.Default);
        }
    }

    /// <summary>The size of one receive from a client.</summary>
    internal const int ReadBufferSize = 32 * 1024;

    /// <summary>
    /// The TCP maximum segment size a milter listener announces: 2,060 bytes, so a peer with TCP timestamps (Linux's
    /// default) sends segments of 2,048 bytes of data.
    /// </summary>
    /// <remarks>
    /// Postfix sizes the buffers of its milter stream from the connection's MSS (<c>vstream_tweak_tcp</c>): when the
    /// MSS is more than half of its 4 KiB default, each of the two buffers becomes 2 × MSS. On loopback the MSS
    /// reaches 65,483, so a milter stream gets 2 × 128 KiB, and the cleanup server opens a fresh stream on the passed
    /// descriptor for every message. Postfix's allocator fills each buffer on allocation and again on release, and
    /// glibc hands the pages back in between, so a message cost cleanup about 1.2 ms of <c>memset</c> and page faults
    /// (perf, 10 KB messages, docs/benchmarks.md). With an MSS of at most 2,048 the buffers stay 4 KiB. On an Ethernet
    /// network (MSS 1,460) the clamp changes nothing.
    /// </remarks>
    internal const int MilterMaxSegment = 2060;

    private const int IPPROTO_TCP = 6;
    private const int TCP_MAXSEG = 2;

    /// <summary>Sets <c>TCP_MAXSEG</c> on a listening socket (accepted connections inherit it and announce it in the SYN-ACK).</summary>
    internal static void ClampMaxSegment(Socket socket, int mss)
    {
        try
        {
            socket.SetRawSocketOption(IPPROTO_TCP, TCP_MAXSEG, BitConverter.GetBytes(mss));
        }
        catch (SocketException)
        {
            // A kernel without the option: the milter works the same, Postfix's buffers are only larger.
        }
    }

    private async Task RunConnectionAsync(long id, Socket socket)
    {
        EndPoint? remote = null;
        EndPoint? local = null;
        try
        {
            remote = socket.RemoteEndPoint;
            local = socket.LocalEndPoint;
            if (socket.AddressFamily != AddressFamily.Unix)
            {
                socket.NoDelay = true;
            }
        }
        catch (SocketException)
        {
            socket.Dispose();
            return;
        }
        Stream network = new NetworkStream(socket, ownsSocket: true);
        if (_options.Protocol == ListenerProtocol.Milter && socket.AddressFamily != AddressFamily.Unix)
        {
            network = new QuickAckStream(socket, network);
        }
        await using Stream stream = network;
        // 32 KiB reads: message data (SMTP DATA, milter body chunks) arrives in one receive per 32 KiB instead of one
        // per 4 KiB (the default), a 10 KB message in one call instead of three. The buffer comes from the shared pool
        // and goes back to it whenever the session has consumed what was read.
        PipeReader input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: ReadBufferSize, leaveOpen: true));
        PipeWriter output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        var context = new ConnectionContext(
            _options.Name + "-" + id.ToString(System.Globalization.CultureInfo.InvariantCulture),
            new DuplexPipe(input, output), remote, local, _options.Name, _stopping.Token);
        bool counted = false;
        try
        {
            ConnectionRefusal? refusal = null;
            if (remote is IPEndPoint ip && !_allowList.Allows(ip.Address))
            {
                refusal = ConnectionRefusal.NotAllowed;
                Log.ClientNotAllowed(_logger, _options.Name, ip.Address.ToString());
            }
            else if (_stopping.IsCancellationRequested)
            {
                refusal = ConnectionRefusal.ShuttingDown;
            }
            else
            {
                counted = true;
                if (Interlocked.Increment(ref _active) > _options.MaxSessions)
                {
                    refusal = ConnectionRefusal.TooManySessions;
                    Log.TooManySessions(_logger, _options.Name, _options.MaxSessions, remote?.ToString() ?? "?");
                }
            }
            if (refusal is ConnectionRefusal reason)
            {
                FilterMetrics.Refused.Add(1, new KeyValuePair<string, object?>("listener", _options.Name), new KeyValuePair<string, object?>("reason", reason.ToString()));
                if (_refuser is not null)
                {
                    using var refuseTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10), _time);
                    await _refuser(context, reason, refuseTimeout.Token).ConfigureAwait(false);
                }
                return;
            }
            Log.Connected(_logger, context.Id, remote?.ToString() ?? "unix");
            var listenerTag = new KeyValuePair<string, object?>("listener", _options.Name);
            FilterMetrics.Sessions.Add(1, listenerTag);
            try
            {
                await _handler.HandleAsync(context, _aborted.Token).ConfigureAwait(false);
            }
            finally
            {
                FilterMetrics.Sessions.Add(-1, listenerTag);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
        {
            Log.ConnectionEnded(_logger, context.Id, ex.GetType().Name + ": " + ex.Message);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(_logger, context.Id, ex);
        }
        finally
        {
            if (counted)
            {
                Interlocked.Decrement(ref _active);
            }
            await CompleteQuietlyAsync(output, input).ConfigureAwait(false);
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private static async Task CompleteQuietlyAsync(PipeWriter output, PipeReader input)
    {
        try
        {
            await output.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
        }
        try
        {
            await input.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    private void CloseListenSocket()
    {
        Socket? s = Interlocked.Exchange(ref _listenSocket, null);
        if (s is null)
        {
            return;
        }
        s.Dispose();
        if (_endpoint.IsUnix)
        {
            try
            {
                File.Delete(_endpoint.UnixPath!);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static void RemoveStaleUnixSocket(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            return;
        }
        if (info.Length != 0)
        {
            throw new IOException($"{path} exists and is not a socket; refusing to replace it");
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path); // nobody listens: a leftover from a previous run
            return;
        }
        throw new IOException($"{path} is in use by another process");
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Listener {Listener} listening on {EndPoint} ({Protocol})")]
        public static partial void Listening(ILogger logger, string listener, string endPoint, ListenerProtocol protocol);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Listener {Listener}: refused {Client}, not in AllowedClients")]
        public static partial void ClientNotAllowed(ILogger logger, string listener, string client);

        [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Listener {Listener}: {Max} sessions running, refused {Client}")]
        public static partial void TooManySessions(ILogger logger, string listener, int max, string client);

        [LoggerMessage(EventId = 2104, Level = LogLevel.Debug, Message = "Connection {Connection} from {Client}")]
        public static partial void Connected(ILogger logger, string connection, string client);

        [LoggerMessage(EventId = 2105, Level = LogLevel.Debug, Message = "Connection {Connection} ended: {Reason}")]
        public static partial void ConnectionEnded(ILogger logger, string connection, string reason);

        [LoggerMessage(EventId = 2106, Level = LogLevel.Error, Message = "Connection {Connection}: the handler failed")]
        public static partial void HandlerFailed(ILogger logger, string connection, Exception exception);

        [LoggerMessage(EventId = 2107, Level = LogLevel.Warning, Message = "Listener {Listener}: accept failed")]
        public static partial void AcceptFailed(ILogger logger, string listener, Exception exception);

        [LoggerMessage(EventId = 2108, Level = LogLevel.Warning, Message = "Listener {Listener}: drain timeout passed with {Count} sessions still running; aborting them")]
        public static partial void DrainTimedOut(ILogger logger, string listener, int count);
    }
}
