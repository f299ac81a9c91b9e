using System.Diagnostics;
using System.Net;
using ContentFilter.Frontends.Tests.SmtpProxy;
using ContentFilter.Frontends.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace ContentFilter.Frontends.Tests.Transport;

/// <summary>Postfix's own SMTP/LMTP load generator (smtp-source, a real peer) against the listener and proxy door.</summary>
public class SmtpSourceInteropTests
{
    private const string SmtpSource = "/usr/sbin/smtp-source";

    private static async Task<(int ExitCode, string Output)> RunAsync(string arguments)
    {
        var psi = new ProcessStartInfo(SmtpSource, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw;
        }
        return (p.ExitCode, await stdout + await stderr);
    }

    [SkippableTheory]
    [InlineData(ListenerProtocol.Smtp, "")]
    [InlineData(ListenerProtocol.Lmtp, "-L ")]
    public async Task SmtpSource_ManySessionsAndMessages_AllAcceptedAndDelivered(ListenerProtocol protocol, string flag)
    {
        Skip.IfNot(File.Exists(SmtpSource), "smtp-source (postfix package) is not installed");
        await using var h = new ProxyHarness();
        h.Listener.Protocol = protocol;
        var door = h.CreateDoor();
        await using var listener = new ConnectionListener(
            new ListenerOptions { Name = "inbound", Endpoint = "127.0.0.1:0", Protocol = protocol }, door, door.RefuseAsync, TimeProvider.System, NullLogger<ConnectionListener>.Instance);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;

        // 3 sessions, 30 messages of 5000 bytes with 2 recipients each, several messages per connection (-d).
        (int exit, string output) = await RunAsync($"{flag}-d -s 3 -m 30 -r 2 -l 5000 -f sender@example.org -t rcpt@example.net -M client.example 127.0.0.1:{port}");
        Assert.True(exit == 0, output);
        await ProxyHarness.EventuallyAsync(() => h.Audit.Records.Count == 30, "30 audit records");
        Assert.Equal(30, h.NextHop.Delivered.Count);
        Assert.All(h.NextHop.Delivered, d =>
        {
            Assert.Equal(2, d.Envelope.Recipients.Count);
            Assert.True(d.Bytes.Length >= 5000, $"{d.Bytes.Length} bytes");
        });
        Assert.All(h.Audit.Records, r => Assert.Equal("Passed", r.Disposition));
    }
}
