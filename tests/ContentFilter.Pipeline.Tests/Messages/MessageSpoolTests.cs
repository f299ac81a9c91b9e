using System.Text;
using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Pipeline.Tests.Messages;

/// <summary>The spool keeps every byte, in memory below the threshold and in a 0600 file above it.</summary>
public sealed class MessageSpoolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cf-spool-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Message(int size)
    {
        var bytes = new byte[size];
        byte[] head = Encoding.ASCII.GetBytes("Subject: spool\r\n\r\n");
        var random = new Random(size);
        random.NextBytes(bytes);
        head.AsSpan(0, Math.Min(head.Length, size)).CopyTo(bytes);
        return bytes;
    }

    private static byte[] ReadAll(MessageSpool spool)
    {
        using Stream s = spool.OpenRead();
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    }

    [Theory]
    // size, threshold, write size: below, at and across the threshold, writes smaller and larger than the file chunk
    [InlineData(10_000, 262_144, 4096)]
    [InlineData(262_144, 262_144, 32_768)]
    [InlineData(262_145, 262_144, 32_768)]
    [InlineData(1_048_576, 262_144, 32_768)]
    [InlineData(1_000_003, 262_144, 7)]
    [InlineData(3_000_000, 262_144, 700_000)]
    [InlineData(200_000, 0, 1)]
    [InlineData(200_000, 1000, 65_536)]
    [InlineData(5_000_000, 2_000_000, 1_000_000)]
    public async Task Content_ReadsBackExactly_InMemoryOrInAFile(int size, int threshold, int writeSize)
    {
        byte[] message = Message(size);
        await using var spool = new MessageSpool(new SpoolOptions { Directory = _dir, InMemoryThreshold = threshold }, "m" + size);
        for (int i = 0; i < size; i += writeSize)
        {
            await spool.WriteAsync(message.AsMemory(i, Math.Min(writeSize, size - i)), CancellationToken.None);
        }
        await spool.CompleteAsync(CancellationToken.None);

        Assert.Equal(size, spool.Length);
        Assert.Equal(size > threshold, spool.FilePath is not null);
        Assert.Equal(message, ReadAll(spool));
        Assert.Equal(message, ReadAll(spool)); // readers are independent
        Assert.Equal(18, spool.BodyOffset);
        if (spool.FilePath is { } path)
        {
            Assert.Equal(size, new FileInfo(path).Length);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public async Task Dispose_RemovesTheFile()
    {
        var spool = new MessageSpool(new SpoolOptions { Directory = _dir, InMemoryThreshold = 100 }, "gone");
        await spool.WriteAsync(Message(5000), CancellationToken.None);
        await spool.CompleteAsync(CancellationToken.None);
        string path = Assert.IsType<string>(spool.FilePath);
        Assert.True(File.Exists(path));

        await spool.DisposeAsync();

        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task OpenRead_BeforeComplete_IsRefused()
    {
        await using var spool = new MessageSpool(new SpoolOptions { Directory = _dir, InMemoryThreshold = 100 }, "early");
        await spool.WriteAsync(Message(5000), CancellationToken.None);

        Assert.Throws<InvalidOperationException>(() => spool.OpenRead());
    }
}
