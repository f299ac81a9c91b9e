using ContentFilter.Pipeline.Messages;
using ContentFilter.Testing.Daemons;

namespace ContentFilter.IntegrationTests.Reliability;

/// <summary>
/// The spool on a really full file system (a 1 MiB tmpfs mounted for the test, as the chaos run's spool): a failed
/// write must leave no file behind, or every failure shrinks the disk further until the next restart.
/// </summary>
/// <remarks>Found by the chaos run (docs/chaos.md): a spool file survived the disk-full phase.</remarks>
public sealed class SpoolDiskFullTests
{
    [SkippableFact]
    public async Task MessageSpool_DiskFullWithBytesStillBuffered_DisposeDeletesTheFileWithoutThrowing()
    {
        Skip.IfNot(TmpfsMount.IsAvailable, "mounting a tmpfs needs root");
        string dir = Directory.CreateTempSubdirectory("cf-spoolfull-").FullName;
        try
        {
            await using TmpfsMount disk = await TmpfsMount.MountAsync(dir, 1024);
            var spool = new MessageSpool(new SpoolOptions { Directory = dir, InMemoryThreshold = 4096 }, "diskfull");
            await spool.WriteAsync(new byte[8192], CancellationToken.None); // past the threshold: a file of two whole pages
            string path = spool.FilePath ?? throw new InvalidOperationException("the spool did not move to a file");
            disk.FillToTheLastByte();
            await spool.WriteAsync(new byte[1000], CancellationToken.None); // fits the FileStream buffer: no error yet

            await Assert.ThrowsAnyAsync<IOException>(async () => await spool.CompleteAsync(CancellationToken.None));
            Exception? disposeError = await Record.ExceptionAsync(async () => await spool.DisposeAsync());

            Assert.Null(disposeError);
            Assert.False(File.Exists(path), "the spool file of a failed message is still there");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
