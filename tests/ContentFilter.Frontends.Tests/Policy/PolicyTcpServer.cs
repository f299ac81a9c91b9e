using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using ContentFilter.Frontends.Transport;

namespace ContentFilter.Frontends.Tests.Policy;

/// <summary>A minimal TCP accept loop on 127.0.0.1 and a free port that hands each connection to a handler.</summary>
/// <remarks>Stands in for the host's listener in tests that need a real socket (Postfix, the benchmark).</remarks>
public sealed class PolicyTcpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IConnectionHandler _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<Task> _sessions = [];
    private int _ids;

    public PolicyTcpServer(IConnectionHandler handler, int port = 0)
    {
        _handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start(512);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _loop = AcceptLoopAsync();
    }

    public int Port { get; }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        Task[] sessions;
        lock (_sessions)
        {
            sessions = _sessions.ToArray();
        }
        await Task.WhenAll(sessions).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
            socket.NoDelay = true;
            Task session = RunAsync(socket);
            lock (_sessions)
            {
                _sessions.RemoveAll(t => t.IsCompleted);
                _sessions.Add(session);
            }
        }
    }

    private async Task RunAsync(Socket socket)
    {
        await Task.Yield();
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var pipe = new StreamDuplexPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
        var context = new ConnectionContext(
            "p" + Interlocked.Increment(ref _ids),
            pipe,
            socket.RemoteEndPoint,
            socket.LocalEndPoint,
            "policy",
            _stop.Token);
        try
        {
            await _handler.HandleAsync(context, CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
        }
    }

    private sealed class StreamDuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
