namespace ContentFilter.Testing;

/// <summary>Waits for something outside the process (a daemon, a queue, a file) with a deadline.</summary>
/// <remarks>
/// Not a clock for logic under test (that is <c>FakeTimeProvider</c>): this only bounds how long a test waits for a
/// real peer to get somewhere, so a broken peer fails the test within its budget instead of hanging the run.
/// </remarks>
public static class Poll
{
    /// <summary>Polls <paramref name="condition"/> every <paramref name="interval"/> until true; throws <see cref="TimeoutException"/> naming <paramref name="what"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, string what, TimeSpan? interval = null, CancellationToken cancellationToken = default)
    {
        await UntilAsync(() => Task.FromResult(condition()), timeout, what, interval, cancellationToken);
    }

    /// <summary>Async variant of <see cref="UntilAsync(Func{bool}, TimeSpan, string, TimeSpan?, CancellationToken)"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? interval = null, CancellationToken cancellationToken = default)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        TimeSpan step = interval ?? TimeSpan.FromMilliseconds(50);
        while (true)
        {
            if (await condition())
            {
                return;
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0.#} s waiting for {what}");
            }
            await Task.Delay(step, cancellationToken);
        }
    }

    /// <summary>Polls until a loopback TCP port accepts a connection.</summary>
    public static Task UntilListeningAsync(int port, TimeSpan timeout, string what, CancellationToken cancellationToken = default) =>
        UntilAsync(() => IsListeningAsync(port), timeout, what, TimeSpan.FromMilliseconds(50), cancellationToken);

    /// <summary>True when 127.0.0.1:<paramref name="port"/> accepts a TCP connection right now.</summary>
    public static async Task<bool> IsListeningAsync(int port)
    {
        using var client = new System.Net.Sockets.TcpClient();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(System.Net.IPAddress.Loopback, port, cts.Token);
            return true;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
