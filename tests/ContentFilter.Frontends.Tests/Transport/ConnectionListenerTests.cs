using System.Net;
using System.Net.Sockets;
using System.Text;
using ContentFilter.Frontends.Tests.SmtpProxy;
using ContentFilter.Frontends.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ContentFilter.Frontends.Tests.Transport;

public class ConnectionListenerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>A handler that greets, then waits for a signal chosen by the test.</summary>
    private sealed class WaitingHandler(bool honourStopping) : IConnectionHandler
    {
        public int Started;
        public int Aborted;

        public async Task HandleAsync(ConnectionContext connection, CancellationToken aborted)
        {
            Interlocked.Increment(ref Started);
            await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes("hello " + connection.Id + "\r\n"), aborted);
            var done = new TaskCompletionSource();
            using CancellationTokenRegistration r1 = aborted.Register(() => { Interlocked.Increment(ref Aborted); done.TrySetResult(); });
            using CancellationTokenRegistration r2 = honourStopping ? connection.Stopping.Register(() => done.TrySetResult()) : default;
            Task eof = WaitForEofAsync(connection);
            await Task.WhenAny(done.Task, eof);
            if (!aborted.IsCancellationRequested)
            {
                await connection.Transport.Output.WriteAsync("bye\r\n"u8.ToArray());
            }
        }

        private static async Task WaitForEofAsync(ConnectionContext c)
        {
            while (true)
            {
                System.IO.Pipelines.ReadResult r = await c.Transport.Input.ReadAsync();
                c.Transport.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    return;
                }
            }
        }
    }

    private static ConnectionListener Start(ListenerOptions options, IConnectionHandler handler, ConnectionRefuser? refuser = null, TimeProvider? time = null)
    {
        var listener = new ConnectionListener(options, handler, refuser, time ?? TimeProvider.System, NullLogger<ConnectionListener>.Instance);
        listener.Start();
        return listener;
    }

    private static async Task<(Socket Socket, StreamReader Reader)> ConnectAsync(EndPoint endPoint)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        return (socket, new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.ASCII));
    }

    private static async Task<string?> LineAsync(StreamReader reader)
    {
        using var cts = new CancellationTokenSource(Patience);
        return await reader.ReadLineAsync(cts.Token);
    }

    [Fact]
    public async Task Listener_PortZero_BindsAndServesTheSmtpDoor()
    {
        await using var h = new ProxyHarness();
        var door = h.CreateDoor();
        await using ConnectionListener listener = Start(new ListenerOptions { Name = "inbound", Endpoint = "127.0.0.1:0" }, door, door.RefuseAsync);
        var ep = Assert.IsType<IPEndPoint>(listener.LocalEndPoint);
        Assert.NotEqual(0, ep.Port);
        (Socket s, StreamReader r) = await ConnectAsync(ep);
        using (s)
        {
            Assert.Equal("220 filter.test ESMTP ContentFilter", await LineAsync(r));
            await s.SendAsync("EHLO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"u8.ToArray());
            string? line;
            while ((line = await LineAsync(r)) is not null && !line.StartsWith("354", StringComparison.Ordinal))
            {
            }
            await s.SendAsync("Subject: real socket\r\n\r\n..dot\r\n.\r\nQUIT\r\n"u8.ToArray());
            Assert.StartsWith("250 2.0.0 from MTA", await LineAsync(r));
            Assert.Equal("221 2.0.0 Bye", await LineAsync(r));
            Assert.Null(await LineAsync(r));
        }
        Assert.Equal("Subject: real socket\r\n\r\n.dot\r\n", Encoding.ASCII.GetString(Assert.Single(h.NextHop.Delivered).Bytes));
    }

    [Fact]
    public async Task Listener_ClientNotInAllowList_Gets554AndIsClosed()
    {
        await using var h = new ProxyHarness();
        var door = h.CreateDoor();
        var options = new ListenerOptions { Name = "inbound", Endpoint = "127.0.0.1:0", AllowedClients = { "192.0.2.0/24" } };
        await using ConnectionListener listener = Start(options, door, door.RefuseAsync);
        (Socket s, StreamReader r) = await ConnectAsync(listener.LocalEndPoint!);
        using (s)
        {
            Assert.Equal("554 5.7.1 filter.test Access denied", await LineAsync(r));
            Assert.Null(await LineAsync(r));
        }
    }

    [Fact]
    public async Task Listener_ClientNotAllowed_WithoutRefuser_JustClosed()
    {
        var handler = new WaitingHandler(honourStopping: true);
        var options = new ListenerOptions { Name = "policy", Protocol = ListenerProtocol.Policy, Endpoint = "127.0.0.1:0", AllowedClients = { "192.0.2.0/24" } };
        await using ConnectionListener listener = Start(options, handler);
        (Socket s, StreamReader r) = await ConnectAsync(listener.LocalEndPoint!);
        using (s)
        {
            Assert.Null(await LineAsync(r));
        }
        Assert.Equal(0, handler.Started);
    }

    [Fact]
    public async Task Listener_OverMaxSessions_Gets421_AndAFreedSlotIsReused()
    {
        await using var h = new ProxyHarness();
        var door = h.CreateDoor();
        var handler = new WaitingHandler(honourStopping: true);
        await using ConnectionListener listener = Start(new ListenerOptions { Name = "inbound", Endpoint = "127.0.0.1:0", MaxSessions = 1 }, handler, door.RefuseAsync);
        (Socket s1, StreamReader r1) = await ConnectAsync(listener.LocalEndPoint!);
        Assert.StartsWith("hello", await LineAsync(r1));
        (Socket s2, StreamReader r2) = await ConnectAsync(listener.LocalEndPoint!);
        using (s2)
        {
            Assert.Equal("421 4.3.2 filter.test Too many connections, try again later", await LineAsync(r2));
            Assert.Null(await LineAsync(r2));
        }
        s1.Shutdown(SocketShutdown.Send); // first client leaves
        Assert.Equal("bye", await LineAsync(r1));
        s1.Dispose();
        await ProxyHarness.EventuallyAsync(() => listener.ActiveSessions == 0, "slot freed");
        (Socket s3, StreamReader r3) = await ConnectAsync(listener.LocalEndPoint!);
        using (s3)
        {
            Assert.StartsWith("hello", await LineAsync(r3));
        }
    }

    [Fact]
    public async Task Stop_CooperativeSessions_FinishWithoutWaitingForTheDrainTimeout()
    {
        var time = new FakeTimeProvider();
        var handler = new WaitingHandler(honourStopping: true);
        ConnectionListener listener = Start(new ListenerOptions { Name = "inbound", Endpoint = "127.0.0.1:0" }, handler, time: time);
        (Socket s, StreamReader r) = await ConnectAsync(listener.LocalEndPoint!);
        using (s)
        {
            Assert.StartsWith("hello", await LineAsync(r));
            await listener.StopAsync(TimeSpan.FromSeconds(30), CancellationToken.None).WaitAsync(Patience);
            Assert.Equal("bye", await LineAsync(r));
            Assert.Null(await LineAsync(r));
        }
        Assert.Equal(0, handler.Aborted);
        await Assert.ThrowsAnyAsync<SocketException>(async () => (await ConnectAsync(listener.LocalEndPoint!)).Socket.Dispose());
    }

    [Fact]
    public async Task Stop_SessionIgnoringStopping_AbortedAfterDrainTimeout()
    {
        var time = new FakeTimeProvider();
        var handler = new WaitingHandler(honourStopping: false);
        ConnectionListener listener = Start(new ListenerOptions { Name = "inbound", Endpoint = "127.0.0.1:0" }, handler, time: time);
        (Socket s, StreamReader r) = await ConnectAsync(listener.LocalEndPoint!);
        using (s)
        {
            Assert.StartsWith("hello", await LineAsync(r));
            Task stop = listener.StopAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
            await Task.WhenAny(stop, Task.Delay(200));
            Assert.False(stop.IsCompleted, "stopped before the drain timeout");
            Assert.Equal(0, handler.Aborted);
            for (int i = 0; i < 200 && !stop.IsCompleted; i++)
            {
                time.Advance(TimeSpan.FromSeconds(31));
                await Task.WhenAny(stop, Task.Delay(20));
            }
            await stop.WaitAsync(Patience);
            Assert.Equal(1, handler.Aborted);
            Assert.Null(await LineAsync(r));
        }
    }

    [Fact]
    public async Task Stop_SmtpSessionIdle_Says421()
    {
        await using var h = new ProxyHarness();
        var door = h.CreateDoor();
        ConnectionListener listener = Start(new ListenerOptions { Name = "inbound", Endpoint = "127.0.0.1:0" }, door, door.RefuseAsync);
        (Socket s, StreamReader r) = await ConnectAsync(listener.LocalEndPoint!);
        using (s)
        {
            Assert.StartsWith("220", await LineAsync(r));
            await listener.StopAsync(TimeSpan.FromSeconds(30), CancellationToken.None).WaitAsync(Patience);
            Assert.StartsWith("421 4.3.2", await LineAsync(r));
            Assert.Null(await LineAsync(r));
        }
    }

    [SkippableFact]
    public async Task Listener_UnixSocket_Mode0660_ServesAndIsRemovedOnStop()
    {
        Skip.If(OperatingSystem.IsWindows());
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        string dir = Path.Combine(Path.GetTempPath(), "cf-unix-" + Guid.NewGuid().ToString("N")[..8]);
        string path = Path.Combine(dir, "smtp.sock");
        try
        {
            var handler = new WaitingHandler(honourStopping: true);
            ConnectionListener listener = Start(new ListenerOptions { Name = "inbound", Endpoint = "unix:" + path }, handler);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(path));
            (Socket s, StreamReader r) = await ConnectAsync(new UnixDomainSocketEndPoint(path));
            using (s)
            {
                Assert.StartsWith("hello", await LineAsync(r));
            }
            await listener.StopAsync(TimeSpan.FromSeconds(5), CancellationToken.None).WaitAsync(Patience);
            Assert.False(File.Exists(path));

            // A stale socket file from a crashed run is replaced.
            using (var stale = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                stale.Bind(new UnixDomainSocketEndPoint(path));
            }
            ConnectionListener again = Start(new ListenerOptions { Name = "inbound", Endpoint = "unix:" + path }, handler);
            await again.StopAsync(TimeSpan.FromSeconds(5), CancellationToken.None).WaitAsync(Patience);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The MSS the client's kernel uses on a connection to <paramref name="listener"/> (<c>TCP_MAXSEG</c>).</summary>
    private static async Task<int> ClientMaxSegmentAsync(ConnectionListener listener)
    {
        (Socket s, StreamReader r) = await ConnectAsync(listener.LocalEndPoint!);
        using (s)
        {
            Assert.StartsWith("hello", await LineAsync(r));
            byte[] value = new byte[4];
            s.GetRawSocketOption(6 /* IPPROTO_TCP */, 2 /* TCP_MAXSEG */, value);
            return BitConverter.ToInt32(value);
        }
    }

    [SkippableFact]
    public async Task Listener_MilterOverTcp_AnnouncesASmallMss_SoPostfixKeepsItsSmallStreamBuffers()
    {
        Skip.IfNot(OperatingSystem.IsLinux());
        var handler = new WaitingHandler(honourStopping: true);
        await using ConnectionListener milter = Start(new ListenerOptions { Name = "milter", Endpoint = "127.0.0.1:0", Protocol = ListenerProtocol.Milter }, handler);
        await using ConnectionListener smtp = Start(new ListenerOptions { Name = "inbound", Endpoint = "127.0.0.1:0" }, handler);

        // Postfix's vstream_tweak_tcp() makes its milter stream buffers 2 x MSS once the MSS exceeds 2048 (half its
        // 4 KiB default). Loopback's MSS is ~65 KB; the milter listener announces 2060 (2048 of data with timestamps).
        int milterMss = await ClientMaxSegmentAsync(milter);
        Assert.InRange(milterMss, 536, ConnectionListener.MilterMaxSegment);
        if (File.Exists("/proc/sys/net/ipv4/tcp_timestamps") && File.ReadAllText("/proc/sys/net/ipv4/tcp_timestamps").Trim() == "1")
        {
            Assert.InRange(milterMss, 536, 2048);
        }
        // The SMTP listener is left alone: the clamp is for Postfix's milter client only.
        Assert.True(await ClientMaxSegmentAsync(smtp) > 4096);
    }

    [Fact]
    public void Listener_NonLoopbackWithoutAllowList_FailsAtConstructionWithAClearMessage()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new ConnectionListener(
            new ListenerOptions { Name = "inbound", Endpoint = "0.0.0.0:10024" }, new WaitingHandler(true), null, TimeProvider.System, NullLogger<ConnectionListener>.Instance));
        Assert.Contains("not a loopback address", ex.Message);
    }
}
