using System.Security.Cryptography;
using ContentFilter.Testing.Chaos;
using ContentFilter.Testing.Messages;

namespace ContentFilter.IntegrationTests.Reliability;

/// <summary>The chaos run keeps only a hash per message and rebuilds the bytes to compare: generation must be deterministic.</summary>
public sealed class ChaosMessageFactoryTests
{
    [Fact]
    public void Create_SameIndexTwice_SameBytesAndFoundByIndexOf()
    {
        var options = new ChaosOptions { MaxSize = 600 * 1024, VirusEvery = 7 };
        using var factory = new ChaosMessageFactory("0a1b2c3d", options);
        var kinds = new HashSet<ChaosMessageKind>();
        for (int i = 0; i < 40; i++)
        {
            byte[] first = factory.Create(i);
            byte[] second = factory.Create(i);
            Assert.True(SHA256.HashData(first).AsSpan().SequenceEqual(SHA256.HashData(second)), $"message {i} ({factory.KindOf(i)}) differs between two calls");
            Assert.Equal(i, factory.IndexOf(DeliveredMessage.ToLf(first)));
            kinds.Add(factory.KindOf(i));
        }
        Assert.Contains(ChaosMessageKind.Signed, kinds);
        Assert.Contains(ChaosMessageKind.EightBit, kinds);
        Assert.Contains(ChaosMessageKind.Virus, kinds);
    }

    [Fact]
    public void Create_InParallel_SameBytesAsOneAtATime()
    {
        var options = new ChaosOptions { SignedEvery = 2 };
        using var factory = new ChaosMessageFactory("0a1b2c3d", options);
        string[] sequential = Enumerable.Range(0, 64).Select(i => Convert.ToHexString(SHA256.HashData(factory.Create(i)))).ToArray();
        string[] parallel = new string[64];
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = Convert.ToHexString(SHA256.HashData(factory.Create(i))));
        Assert.Equal(sequential, parallel);
    }

    [Fact]
    public void TargetSize_StaysWithinBoundsAndSpansTheTiers()
    {
        var options = new ChaosOptions { MinSize = 1024, MaxSize = 5 * 1024 * 1024 };
        using var factory = new ChaosMessageFactory("0a1b2c3d", options);
        int[] sizes = Enumerable.Range(0, 2000).Select(factory.TargetSize).ToArray();
        Assert.All(sizes, s => Assert.InRange(s, options.MinSize, options.MaxSize));
        Assert.Contains(sizes, s => s < 10 * 1024);
        Assert.Contains(sizes, s => s > 1024 * 1024);
    }
}
