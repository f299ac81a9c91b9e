using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Testing.Daemons;

/// <summary>A scripted clamd on a loopback port: reads the INSTREAM upload, then answers with fixed bytes, or never.</summary>
/// <remarks>For the cases a real clamd will not produce: garbage replies, a peer that accepts and hangs.</remarks>
public sealed class ClamdFake : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private volatile byte[]? _reply;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _connections;
    private int _disposed;

    /// <summary>Starts listening on 127.0.0.1, port 0.</summary>
    /// <param name="reply">Bytes to send after the upload's end chunk; null to never answer (and hold the connection).</param>
    public ClamdFake(byte[]? reply)
    {
        _reply = reply;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The bytes the next connection gets (null: never answer); change it between cases to reuse one fake.</summary>
    public byte[]? Reply
    {
        get => _reply;
        set => _reply = value;
    }

    /// <summary>The address: <c>127.0.0.1:PORT</c>.</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>The loopback port it listens on.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    private async Task AcceptLoopAsync()
    {
        var sessions = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket s = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _connections);
                sessions.Add(Task.Run(() => SessionAsync(s)));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        await Task.WhenAll(sessions).ConfigureAwait(false);
    }

    private async Task SessionAsync(Socket socket)
    {
        using (socket)
        {
            try
            {
                await using var stream = new NetworkStream(socket);
                await ReadUploadAsync(stream).ConfigureAwait(false);
                byte[]? reply = _reply;
                if (reply is null)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token).ConfigureAwait(false);
                }
                await stream.WriteAsync(reply, _stop.Token).ConfigureAwait(false);
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or EndOfStreamException)
            {
            }
        }
    }

    private async Task ReadUploadAsync(Stream stream)
    {
        // The command up to its NUL.
        byte[] one = new byte[1];
        var command = new List<byte>();
        while (true)
        {
            await stream.ReadExactlyAsync(one, _stop.Token).ConfigureAwait(false);
            if (one[0] == 0)
            {
                break;
            }
            command.Add(one[0]);
        }
        if (!command.SequenceEqual("zINSTREAM"u8.ToArray()))
        {
            return;
        }
        byte[] header = new byte[4];
        byte[] sink = new byte[64 * 1024];
        while (true)
        {
            await stream.ReadExactlyAsync(header, _stop.Token).ConfigureAwait(false);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (length == 0)
            {
                return;
            }
            while (length > 0)
            {
                int n = (int)Math.Min(length, (uint)sink.Length);
                await stream.ReadExactlyAsync(sink.AsMemory(0, n), _stop.Token).ConfigureAwait(false);
                length -= (uint)n;
            }
        }
    }

    /// <summary>Stops listening and closes every held connection; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stop.Cancel();
        _listener.Stop();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
