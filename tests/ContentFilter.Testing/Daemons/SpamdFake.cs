using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ContentFilter.Testing.Daemons;

/// <summary>A scripted spamd on a loopback port: reads the request head and body, then answers with fixed bytes, or never.</summary>
public sealed class SpamdFake : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private volatile byte[]? _reply;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<byte[]> _requests = new();

    /// <summary>Starts listening on 127.0.0.1, port 0.</summary>
    /// <param name="reply">Bytes to answer with; null to never answer.</param>
    public SpamdFake(byte[]? reply)
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
    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>The requests received (head and body bytes), in order.</summary>
    public IReadOnlyList<byte[]> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToList();
            }
        }
    }

    private async Task AcceptLoopAsync()
    {
        var sessions = new List<Task>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket s = await _listener.AcceptSocketAsync(_stop.Token).ConfigureAwait(false);
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
                var received = new List<byte>();
                byte[] buffer = new byte[64 * 1024];
                int headEnd = -1;
                long contentLength = 0;
                while (true)
                {
                    if (headEnd < 0)
                    {
                        string text = Encoding.Latin1.GetString(received.ToArray());
                        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                        if (end >= 0)
                        {
                            headEnd = end + 4;
                            foreach (string line in text[..end].Split("\r\n"))
                            {
                                if (line.StartsWith("Content-length: ", StringComparison.Ordinal))
                                {
                                    contentLength = long.Parse(line[16..], System.Globalization.CultureInfo.InvariantCulture);
                                }
                            }
                        }
                    }
                    if (headEnd >= 0 && received.Count - headEnd >= contentLength)
                    {
                        break;
                    }
                    int n = await stream.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }
                    received.AddRange(buffer.AsSpan(0, n).ToArray());
                }
                lock (_requests)
                {
                    _requests.Add(received.ToArray());
                }
                byte[]? reply = _reply;
                if (reply is null)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token).ConfigureAwait(false);
                }
                await stream.WriteAsync(reply, _stop.Token).ConfigureAwait(false);
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
            {
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
