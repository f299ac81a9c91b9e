using System.Text;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Checks.Tests;

/// <summary>Builds a <see cref="MessageContext"/> over an in-memory spool for check tests.</summary>
internal static class AuthTestMessage
{
    public static async Task<MessageContext> ContextAsync(string headersAndBody, Envelope envelope, MessageDirection direction = MessageDirection.Inbound)
    {
        var spool = new MessageSpool(new SpoolOptions { Directory = Path.GetTempPath(), InMemoryThreshold = 1 << 20 }, "test" + Guid.NewGuid().ToString("N")[..8]);
        byte[] bytes = Encoding.UTF8.GetBytes(headersAndBody.Replace("\r\n", "\n").Replace("\n", "\r\n"));
        await spool.WriteAsync(bytes, CancellationToken.None);
        await spool.CompleteAsync(CancellationToken.None);
        MessageHeaders headers = spool.ReadHeaders(64 * 1024);
        return new MessageContext("MAILID000001", envelope, spool, headers, ListenerPolicy.DefaultInbound, FrontDoor.Smtp, DateTimeOffset.UnixEpoch)
        {
            Direction = direction,
        };
    }
}
