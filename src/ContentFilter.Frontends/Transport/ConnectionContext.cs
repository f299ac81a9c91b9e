using System.IO.Pipelines;
using System.Net;

namespace ContentFilter.Frontends.Transport;

/// <summary>One accepted connection as a protocol session sees it: a duplex pipe and who is on the other end.</summary>
/// <remarks>Sessions never see sockets (Kestrel's ConnectionHandler shape), so every door runs over in-memory pipes in tests.</remarks>
public sealed class ConnectionContext
{
    /// <summary>Creates the context.</summary>
    public ConnectionContext(string id, IDuplexPipe transport, EndPoint? remoteEndPoint, EndPoint? localEndPoint, string listenerName, CancellationToken stopping)
    {
        Id = id;
        Transport = transport;
        RemoteEndPoint = remoteEndPoint;
        LocalEndPoint = localEndPoint;
        ListenerName = listenerName;
        Stopping = stopping;
    }

    /// <summary>A short id for logs.</summary>
    public string Id { get; }

    /// <summary>The byte streams.</summary>
    public IDuplexPipe Transport { get; }

    /// <summary>The peer (for unix sockets, a <see cref="System.Net.Sockets.UnixDomainSocketEndPoint"/> or null).</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Our end.</summary>
    public EndPoint? LocalEndPoint { get; }

    /// <summary>The listener's configured name.</summary>
    public string ListenerName { get; }

    /// <summary>Signalled when the service is shutting down: finish the current transaction, then say goodbye (421).</summary>
    public CancellationToken Stopping { get; }
}
