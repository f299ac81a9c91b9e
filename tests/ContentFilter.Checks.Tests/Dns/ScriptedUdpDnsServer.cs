using System.Net;
using System.Net.Sockets;

namespace ContentFilter.Checks.Tests.Dns;

/// <summary>A UDP "DNS server" on 127.0.0.1:0 that either never answers or answers every query with one RCODE.</summary>
internal sealed class ScriptedUdpDnsServer : IDisposable
{
    private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="rcode">The RCODE to answer with (2 = SERVFAIL), or null to stay silent (a timeout).</param>
    public ScriptedUdpDnsServer(int? rcode)
    {
        _loop = Task.Run(() => RunAsync(rcode));
    }

    public string Endpoint => $"127.0.0.1:{((IPEndPoint)_udp.Client.LocalEndPoint!).Port}";

    public int Queries;

    private async Task RunAsync(int? rcode)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                UdpReceiveResult r = await _udp.ReceiveAsync(_stop.Token);
                Interlocked.Increment(ref Queries);
                if (rcode is null || r.Buffer.Length < 12)
                {
                    continue;
                }
                byte[] reply = r.Buffer.ToArray();
                reply[2] = (byte)(0x80 | (reply[2] & 0x01)); // QR=1, keep RD
                reply[3] = (byte)(0x80 | rcode.Value);     // RA=1, RCODE
                await _udp.SendAsync(reply, r.RemoteEndPoint, _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
        try
        {
            _loop.Wait(2000);
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }
}
