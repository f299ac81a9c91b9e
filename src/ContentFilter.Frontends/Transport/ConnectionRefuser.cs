namespace ContentFilter.Frontends.Transport;

/// <summary>Tells a refused client why, in its protocol's words, before the listener closes the connection.</summary>
/// <remarks>SMTP says <c>554 5.7.1</c> or <c>421 4.3.2</c>; milter and policy clients are simply closed (pass null).</remarks>
public delegate Task ConnectionRefuser(ConnectionContext connection, ConnectionRefusal reason, CancellationToken cancellationToken);
