using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using ContentFilter.Frontends.Transport;

namespace ContentFilter.IntegrationTests.Milter;

/// <summary>
/// A minimal TCP accept loop on 127.0.0.1:0 that hands each connection to an <see cref="IConnectionHandler"/>.
/// </summary>
/// <remarks>Stands in for the Transport listener until it lands on main; tests never use fixed ports.</remarks>
internal sealed class MilterTcpHost : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IConnectionHandler _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accept;
    private int _next;

    public MilterTcpHost(IConnectionHandler handler)
    {
        _handler = handler;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accept = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            lock (_connections)
            {
                _connections.Add(Task.Run(() => ServeAsync(socket)));
            }
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using (socket)
        {
            var stream = new NetworkStream(socket, ownsSocket: false);
            await using (stream)
            {
                var pipe = new StreamDuplexPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
                var context = new ConnectionContext("t" + Interlocked.Increment(ref _next), pipe, socket.RemoteEndPoint, socket.LocalEndPoint, "milter", _stop.Token);
                await _handler.HandleAsync(context, CancellationToken.None);
            }
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accept;
        Task[] running;
        lock (_connections)
        {
            running = _connections.ToArray();
        }
        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private sealed class StreamDuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
