namespace ContentFilter.Checks.Antivirus;

/// <summary>Several scanner daemons used round robin, with failover to the others when one fails.</summary>
/// <remarks>
/// Each scan starts at the next server in turn (spreading load) and tries every other server once before giving
/// up, as amavis does with its <c>@av_scanners</c> socket lists. Thread-safe.
/// </remarks>
public sealed class ScannerRing
{
    private readonly ScannerEndpoint[] _servers;
    private int _next = -1;

    /// <summary>Creates the ring; at least one server.</summary>
    public ScannerRing(IEnumerable<ScannerEndpoint> servers)
    {
        _servers = servers.ToArray();
        if (_servers.Length == 0)
        {
            throw new ArgumentException("At least one scanner server is needed.", nameof(servers));
        }
    }

    /// <summary>The servers, in configuration order.</summary>
    public IReadOnlyList<ScannerEndpoint> Servers => _servers;

    /// <summary>The order to try for one scan: the next server in turn, then the others.</summary>
    public ScannerEndpoint[] NextOrder()
    {
        int start = (int)((uint)Interlocked.Increment(ref _next) % (uint)_servers.Length);
        var order = new ScannerEndpoint[_servers.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = _servers[(start + i) % _servers.Length];
        }
        return order;
    }
}
