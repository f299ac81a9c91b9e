using System.Net;
using ContentFilter.Frontends.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.IntegrationTests.Milter;

/// <summary>
/// The service's own <see cref="ConnectionListener"/> as a milter listener on 127.0.0.1:0 (loopback TCP, with what
/// the listener does for Postfix's milter client: quick ACKs, the announced MSS), serving one <see cref="IConnectionHandler"/>.
/// </summary>
internal sealed class MilterTcpHost : IAsyncDisposable
{
    private readonly ConnectionListener _listener;

    public MilterTcpHost(IConnectionHandler handler)
    {
        _listener = new ConnectionListener(
            new ListenerOptions { Name = "milter", Endpoint = "127.0.0.1:0", Protocol = ListenerProtocol.Milter },
            handler, refuser: null, TimeProvider.System, NullLogger<ConnectionListener>.Instance);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public async ValueTask DisposeAsync()
    {
        await _listener.StopAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        await _listener.DisposeAsync();
    }
}
