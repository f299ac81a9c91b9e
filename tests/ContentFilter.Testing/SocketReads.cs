using System.Net.Sockets;

namespace ContentFilter.Testing;

/// <summary>Raw socket reads for tests that talk to a door byte by byte.</summary>
public static class SocketReads
{
    /// <summary>Everything the peer sends until it closes the connection (a reset counts as closed).</summary>
    /// <exception cref="TimeoutException">The peer kept the connection open past <paramref name="timeout"/>.</exception>
    public static async Task<byte[]> ReadUntilClosedAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        byte[] buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
            // reset: closed as well
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"the connection was not closed within {timeout.TotalSeconds} s (received {received.Length} bytes)");
        }
        return received.ToArray();
    }
}
