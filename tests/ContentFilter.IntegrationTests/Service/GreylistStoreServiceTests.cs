using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ContentFilter.IntegrationTests.Fixtures;
using ContentFilter.Testing;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.Service;

/// <summary>
/// The SQLite greylist in the real service: what it answered from memory is on disk after a stop (SIGTERM), so the
/// restarted service knows the triplet; and a second service on the same file is refused at start.
/// </summary>
public sealed class GreylistStoreServiceTests
{
    private const string Request =
        "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.7\nclient_name=mx.sender.example\n"
        + "helo_name=mx.sender.example\nsender=alice@sender.example\nrecipient=bob@dest.test\ninstance=1.2.3\n\n";

    [SkippableFact]
    public async Task SqliteGreylist_KnownAfterARestart_AndASecondServiceOnTheFileIsRefused()
    {
        string root = Directory.CreateTempSubdirectory("cf-grey-svc-").FullName;
        try
        {
            string db = Path.Combine(root, "greylist.db");
            await using ContentFilterProcess first = Service(db, out int port);
            await first.StartAsync();
            Assert.StartsWith("action=DEFER_IF_PERMIT", await AskAsync(port));
            Assert.Contains("reason=new", File.ReadAllText(first.StdoutFile));

            // A second service on the same file: refused at start with the reason, the first one unharmed.
            await using ContentFilterProcess second = Service(db, out _);
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync());
            Assert.Contains("exited with 70", refused.Message, StringComparison.Ordinal);
            Assert.Contains($"{db} is in use by another store", second.Diagnostics() + File.ReadAllText(second.StdoutFile), StringComparison.Ordinal);
            Assert.StartsWith("action=DEFER_IF_PERMIT", await AskAsync(port));

            // Stopped (writes what it answered) and started again: the triplet is known, the retry is early.
            Assert.Equal(0, await first.StopAsync());
            await first.StartAsync();
            Assert.StartsWith("action=DEFER_IF_PERMIT", await AskAsync(port));
            string log = File.ReadAllText(first.StdoutFile);
            int restart = log.LastIndexOf("reason=", StringComparison.Ordinal);
            Assert.True(log.AsSpan(restart).StartsWith("reason=early-retry"), log[Math.Max(0, restart - 200)..] + "\n" + first.Diagnostics());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static ContentFilterProcess Service(string db, out int policyPort)
    {
        var filter = new ContentFilterProcess(nextHopPort: TestPaths.FreePort(), ServiceSections.IsKnown);
        string empty = Path.Combine(filter.RootDirectory, "whitelist-empty");
        File.WriteAllText(empty, "");
        policyPort = TestPaths.FreePort();
        filter.Set("Listeners:policy", new JsonObject
        {
            ["Enabled"] = true,
            ["Endpoint"] = "127.0.0.1:" + policyPort.ToString(CultureInfo.InvariantCulture),
            ["Protocol"] = "Policy",
            ["Direction"] = "Inbound",
        })
            .Set("Greylist:SqlitePath", db)
            .Set("Greylist:WhitelistClientFiles", new JsonArray(empty))
            .Set("Greylist:WhitelistRecipientFiles", new JsonArray(empty));
        return filter;
    }

    /// <summary>One policy request on a fresh connection; its action line.</summary>
    private static async Task<string> AskAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await socket.SendAsync(Encoding.ASCII.GetBytes(Request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (await socket.ReceiveAsync(one, SocketFlags.None, timeout.Token) == 1 && one[0] != (byte)'\n')
        {
            line.Append((char)one[0]);
        }
        return line.ToString();
    }
}
