using System.Net;
using System.Net.Sockets;
using Xunit;

namespace ContentFilter.Testing;

/// <summary>Where the repository, its test data and the shared test suites are, and free loopback ports.</summary>
/// <remarks>
/// Tests run from <c>tests/X/bin/Config/net10.0</c>, so paths are found by walking up to <c>ContentFilter.sln</c>
/// instead of being hard-coded: a fresh clone anywhere works. The shared suites live beside the clone
/// (<c>../shared/testsuites</c>) and are read in place, never copied; a clone without them skips those tests.
/// </remarks>
public static class TestPaths
{
    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    /// <summary>The repository root (the directory holding <c>ContentFilter.sln</c>).</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary><c>&lt;repo&gt;/testdata</c>.</summary>
    public static string TestData => Path.Combine(RepoRoot, "testdata");

    /// <summary><c>&lt;repo&gt;/testdata/messages</c>: the byte-exact sample messages.</summary>
    public static string Messages => Path.Combine(TestData, "messages");

    /// <summary><c>&lt;repo&gt;/../shared/testsuites</c>; may be absent (see <see cref="SkipUnlessSharedTestSuites"/>).</summary>
    public static string SharedTestSuites => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "testsuites"));

    /// <summary>A path under <c>testdata</c>.</summary>
    public static string Data(params string[] parts) => Path.Combine([TestData, .. parts]);

    /// <summary>The bytes of <c>testdata/messages/NAME</c>, exactly as stored.</summary>
    public static byte[] ReadMessage(string name) => File.ReadAllBytes(Path.Combine(Messages, name));

    /// <summary>A path under the shared test suites after skipping the test when that folder is absent.</summary>
    public static string SkipUnlessSharedTestSuites(params string[] parts)
    {
        string path = Path.Combine([SharedTestSuites, .. parts]);
        Skip.IfNot(Directory.Exists(path) || File.Exists(path), $"shared test suite not present: {path}");
        return path;
    }

    /// <summary>A loopback TCP port that was free a moment ago (bind 127.0.0.1:0, read it back, close).</summary>
    /// <remarks>
    /// For daemons that must be told a port in their configuration (Postfix, clamd, the service). Another process
    /// could take it in between; the window is small and every fixture fails loudly rather than talking to a stranger.
    /// </remarks>
    public static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    /// <summary>Several distinct free ports at once (all held open until every one is chosen, so none repeats).</summary>
    public static int[] FreePorts(int count)
    {
        var sockets = new List<Socket>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }
            return sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port).ToArray();
        }
        finally
        {
            foreach (Socket s in sockets)
            {
                s.Dispose();
            }
        }
    }

    private static string FindRepoRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ContentFilter.sln")))
                {
                    return dir.FullName;
                }
            }
        }
        throw new InvalidOperationException($"ContentFilter.sln not found above {AppContext.BaseDirectory}");
    }
}
