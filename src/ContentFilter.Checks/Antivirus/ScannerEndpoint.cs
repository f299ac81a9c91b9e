using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Checks.Antivirus;

/// <summary>The address of a scanner daemon (clamd, spamd): a unix socket or a TCP host and port.</summary>
/// <remarks>
/// Accepted forms: <c>unix:/var/run/clamav/clamd.ctl</c>, <c>/var/run/clamav/clamd.ctl</c>,
/// <c>tcp:127.0.0.1:3310</c>, <c>127.0.0.1:3310</c>, <c>[::1]:783</c>, <c>localhost:783</c>. Parsed once at start-up
/// so a typo fails the configuration check rather than the first message. Shared by the clamd and spamd clients.
/// </remarks>
public sealed class ScannerEndpoint
{
    private ScannerEndpoint(EndPoint endPoint, string display)
    {
        EndPoint = endPoint;
        Display = display;
    }

    /// <summary>The socket address.</summary>
    public EndPoint EndPoint { get; }

    /// <summary>The canonical text (<c>unix:/path</c> or <c>tcp:host:port</c>) for logs and results.</summary>
    public string Display { get; }

    /// <summary>True for a unix-domain socket.</summary>
    public bool IsUnix => EndPoint is UnixDomainSocketEndPoint;

    /// <inheritdoc />
    public override string ToString() => Display;

    /// <summary>Parses an address; <paramref name="defaultPort"/> is used when a TCP form names no port.</summary>
    /// <exception cref="FormatException">The text is not a valid address.</exception>
    public static ScannerEndpoint Parse(string text, int defaultPort)
    {
        if (!TryParse(text, defaultPort, out ScannerEndpoint? endpoint, out string? error))
        {
            throw new FormatException(error);
        }
        return endpoint;
    }

    /// <summary>Parses an address without throwing.</summary>
    public static bool TryParse(string? text, int defaultPort, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ScannerEndpoint? endpoint, out string? error)
    {
        endpoint = null;
        error = null;
        string t = (text ?? string.Empty).Trim();
        if (t.Length == 0)
        {
            error = "empty scanner address";
            return false;
        }
        if (t.StartsWith("unix:", StringComparison.OrdinalIgnoreCase) || t.StartsWith('/'))
        {
            string path = t.StartsWith('/') ? t : t[5..];
            if (!path.StartsWith('/'))
            {
                error = $"unix socket path must be absolute: '{t}'";
                return false;
            }
            endpoint = new ScannerEndpoint(new UnixDomainSocketEndPoint(path), "unix:" + path);
            return true;
        }
        if (t.StartsWith("tcp:", StringComparison.OrdinalIgnoreCase) || t.StartsWith("inet:", StringComparison.OrdinalIgnoreCase))
        {
            t = t[(t.IndexOf(':') + 1)..];
        }
        string host;
        int port = defaultPort;
        if (t.StartsWith('['))
        {
            int close = t.IndexOf(']');
            if (close < 0)
            {
                error = $"unterminated IPv6 literal: '{text}'";
                return false;
            }
            host = t[1..close];
            string rest = t[(close + 1)..];
            if (rest.Length > 0 && (!rest.StartsWith(':') || !TryPort(rest[1..], out port)))
            {
                error = $"bad port in '{text}'";
                return false;
            }
        }
        else
        {
            int colon = t.LastIndexOf(':');
            if (colon >= 0 && t.IndexOf(':') == colon)
            {
                host = t[..colon];
                if (!TryPort(t[(colon + 1)..], out port))
                {
                    error = $"bad port in '{text}'";
                    return false;
                }
            }
            else
            {
                host = t;
            }
        }
        if (host.Length == 0)
        {
            error = $"missing host in '{text}'";
            return false;
        }
        EndPoint ep = IPAddress.TryParse(host, out IPAddress? ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
        string shown = ip is { AddressFamily: AddressFamily.InterNetworkV6 } ? $"[{host}]" : host;
        endpoint = new ScannerEndpoint(ep, $"tcp:{shown}:{port.ToString(CultureInfo.InvariantCulture)}");
        return true;
    }

    /// <summary>The first pause before connecting again to a unix socket whose listen queue is full; it doubles
    /// up to <see cref="MaxQueueFullPause"/>.</summary>
    internal static readonly TimeSpan FirstQueueFullPause = TimeSpan.FromMilliseconds(1);

    /// <summary>The longest pause between connects to a unix socket whose listen queue is full.</summary>
    internal static readonly TimeSpan MaxQueueFullPause = TimeSpan.FromMilliseconds(50);

    /// <summary>Connects, giving up after <paramref name="timeout"/> (measured on <paramref name="time"/>).</summary>
    /// <remarks>A unix socket whose listen queue is full refuses a non-blocking connect at once (EAGAIN) where a
    /// blocking one would wait for room. A burst of scans does that to Debian's clamd (MaxThreads 12,
    /// MaxConnectionQueueLength 15), so the connect is tried again after a short pause until the timeout rather
    /// than failing the scan.</remarks>
    /// <exception cref="TimeoutException">The connection was not established in time.</exception>
    /// <exception cref="SocketException">Refused, no such socket, unreachable.</exception>
    public async Task<Socket> ConnectAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        TimeSpan pause = FirstQueueFullPause;
        bool queueFull = false;
        try
        {
            while (true)
            {
                Socket socket = NewSocket();
                try
                {
                    await socket.ConnectAsync(EndPoint, linked.Token).ConfigureAwait(false);
                    return socket;
                }
                catch (SocketException ex) when (IsUnix && ex.SocketErrorCode == SocketError.WouldBlock)
                {
                    socket.Dispose();
                    queueFull = true;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
                await Task.Delay(pause, time, linked.Token).ConfigureAwait(false);
                pause = pause * 2 < MaxQueueFullPause ? pause * 2 : MaxQueueFullPause;
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"connect to {Display} timed out after {timeout.TotalSeconds:0.###} s"
                + (queueFull ? " (listen queue full)" : ""));
        }
    }

    private Socket NewSocket()
    {
        if (IsUnix)
        {
            return new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        Socket socket = EndPoint is IPEndPoint ipe
            ? new Socket(ipe.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return socket;
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;
}
