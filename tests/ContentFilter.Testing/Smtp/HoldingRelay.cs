using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Testing.Smtp;

/// <summary>
/// A loopback TCP relay that stops passing the client's bytes on after a set number of them, so a test can act on
/// the server while a transfer is surely unfinished (a kill mid-DATA) instead of racing it. The server's bytes
/// always pass. When either side closes, both are closed. After <see cref="Release"/>, everything passes.
/// </summary>
public sealed class HoldingRelay : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly long _holdAfter;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<long> _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _sessions = new();
    private readonly Task _accepting;

    /// <summary>Listens on 127.0.0.1 (port 0) and relays each connection to <c>127.0.0.1:</c><see cref="TargetPort"/>.</summary>
    /// <param name="holdAfter">How many of a connection's client bytes pass before the relay holds the rest.</param>
    public HoldingRelay(long holdAfter)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(holdAfter);
        _holdAfter = holdAfter;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The server's port on 127.0.0.1; set before the first connection (the relay can exist before the server).</summary>
    public int TargetPort { get; set; }

    /// <summary>The relay's own port, for the client to connect to.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Completes, with the count of client bytes passed on, when a connection first reaches the hold.</summary>
    public Task<long> Held => _held.Task;

    /// <summary>From now on nothing is held: held connections go on and new ones pass everything.</summary>
    public void Release() => _released.TrySetResult();

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
                lock (_sessions)
                {
                    _sessions.Add(Task.Run(() => SessionAsync(client)));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task SessionAsync(Socket client)
    {
        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using (client)
        {
            try
            {
                await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, TargetPort), _stop.Token).ConfigureAwait(false);
                Task up = PumpAsync(client, server, hold: true);
                Task down = PumpAsync(server, client, hold: false);
                await Task.WhenAny(up, down).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            // Either side ended: end both, as a connection broken in the middle looks to the other side.
            client.Close(0);
            server.Close(0);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool hold)
    {
        byte[] buffer = new byte[64 * 1024];
        long passed = 0;
        try
        {
            while (true)
            {
                int room = buffer.Length;
                if (hold && !_released.Task.IsCompleted)
                {
                    long left = _holdAfter - passed;
                    if (left <= 0)
                    {
                        _held.TrySetResult(passed);
                        await _released.Task.WaitAsync(_stop.Token).ConfigureAwait(false);
                        continue;
                    }
                    room = (int)Math.Min(room, left);
                }
                int n = await from.ReceiveAsync(buffer.AsMemory(0, room), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token).ConfigureAwait(false);
                passed += n;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        Task[] sessions;
        lock (_sessions)
        {
            sessions = _sessions.ToArray();
        }
        await Task.WhenAll(sessions).ConfigureAwait(false);
        _stop.Dispose();
    }
}
