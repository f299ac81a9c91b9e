namespace ContentFilter.Frontends.Transport;

/// <summary>A protocol door: handles one connection from accept to close.</summary>
public interface IConnectionHandler
{
    /// <summary>Runs the session. Returns when the connection is done; must not throw for peer misbehaviour.</summary>
    /// <param name="connection">The connection.</param>
    /// <param name="aborted">Signalled to abandon the connection at once (drain timeout passed).</param>
    Task HandleAsync(ConnectionContext connection, CancellationToken aborted);
}
