using System.Net;
using System.Net.Sockets;

namespace ContentFilter.IntegrationTests.Milter;

/// <summary>A hostile TCP client: the door closes on it and keeps serving real peers.</summary>
public sealed class MilterTcpHostileTests
{
    private static async Task<bool> ServerClosesAsync(int port, byte[] payload)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(payload);
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (await stream.ReadAsync(buffer, cts.Token) > 0)
            {
            }
            return true;
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [SkippableFact]
    public async Task GarbageOverTcp_ConnectionClosed_NextMiltertestStillServed()
    {
        await using var milter = new MilterUnderTest();

        Assert.True(await ServerClosesAsync(milter.Port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray()));
        Assert.True(await ServerClosesAsync(milter.Port, [0, 0, 0, 0]));
        Assert.True(await ServerClosesAsync(milter.Port, [0x7f, 0xff, 0xff, 0xff, (byte)'B']));

        Skip.IfNot(File.Exists("/usr/bin/miltertest"), "miltertest is not installed");
        string script = Path.Combine(RepoPaths.Root(), "testdata", "milter", "miltertest", "clean.lua");
        (int exit, string output) = await Run.ProcessAsync("/usr/bin/miltertest", ["-D", "port=" + milter.Port, "-s", script], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);
        Assert.Single(milter.Audit.Records);
    }
}
