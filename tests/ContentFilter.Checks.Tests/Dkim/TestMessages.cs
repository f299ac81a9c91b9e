using System.Text;
using ContentFilter.Pipeline.Checks;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Checks.Tests.Dkim;

/// <summary>Builds spooled messages and contexts for DKIM and ARC tests.</summary>
internal static class TestMessages
{
    /// <summary>The shared test-suite folder (../shared/testsuites from the repository root), or null when absent.</summary>
    public static string? SuiteRoot
    {
        get
        {
            string? dir = AppContext.BaseDirectory;
            while (dir is not null)
            {
                if (File.Exists(Path.Combine(dir, "ContentFilter.sln")))
                {
                    string path = Path.GetFullPath(Path.Combine(dir, "..", "shared", "testsuites"));
                    if (Directory.Exists(path))
                    {
                        return path;
                    }
                    // Worktrees live one level deeper (/work/wt/NAME): try the main checkout's sibling too.
                    string alt = Path.GetFullPath(Path.Combine(dir, "..", "..", "shared", "testsuites"));
                    return Directory.Exists(alt) ? alt : null;
                }
                dir = Path.GetDirectoryName(dir);
            }
            return null;
        }
    }

    /// <summary>The repository root.</summary>
    public static string RepoRoot
    {
        get
        {
            string? dir = AppContext.BaseDirectory;
            while (dir is not null && !File.Exists(Path.Combine(dir, "ContentFilter.sln")))
            {
                dir = Path.GetDirectoryName(dir);
            }
            return dir ?? throw new InvalidOperationException("repository root not found");
        }
    }

    /// <summary>Text with LF or CRLF line ends, as CRLF bytes.</summary>
    public static byte[] Crlf(string text) => Encoding.UTF8.GetBytes(text.Replace("\r\n", "\n").Replace("\n", "\r\n"));

    /// <summary>Spools <paramref name="message"/> (in memory or, past <paramref name="threshold"/>, in a temp file).</summary>
    public static async Task<MessageSpool> SpoolAsync(byte[] message, int threshold = 256 * 1024)
    {
        var spool = new MessageSpool(new SpoolOptions { Directory = Path.Combine(Path.GetTempPath(), "cf-dkim-tests"), InMemoryThreshold = threshold }, MailId.New());
        await spool.WriteAsync(message, CancellationToken.None);
        await spool.CompleteAsync(CancellationToken.None);
        return spool;
    }

    /// <summary>A context for a spooled message.</summary>
    public static MessageContext Context(MessageSpool spool, MessageDirection direction = MessageDirection.Inbound)
    {
        MessageHeaders headers = spool.ReadHeaders(1024 * 1024);
        var listener = new ListenerPolicy { Name = direction == MessageDirection.Inbound ? "inbound" : "originating", Direction = direction };
        return new MessageContext(MailId.New(), new Envelope { MailFrom = "sender@example.com" }, spool, headers, listener, FrontDoor.Smtp, DateTimeOffset.UnixEpoch)
        {
            Direction = direction,
        };
    }
}
