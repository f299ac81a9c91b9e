using ContentFilter.Pipeline.Messages;

namespace ContentFilter.Pipeline.Tests.Messages;

public class MailIdTests
{
    [Fact]
    public void New_AcrossSeveralBatchesOfRandomBytes_GivesValidDistinctIds()
    {
        // 32 ids come from one draw of random bytes: 1,000 ids cross 31 refills, on this thread and on others.
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < 1000; i++)
        {
            string id = MailId.New();
            Assert.True(MailId.IsValid(id), id);
            Assert.True(ids.Add(id), "repeated id " + id);
        }
        string[][] others = Enumerable.Range(0, 4)
            .Select(_ => Task.Run(() => Enumerable.Range(0, 100).Select(_ => MailId.New()).ToArray()))
            .Select(t => t.GetAwaiter().GetResult())
            .ToArray();
        foreach (string id in others.SelectMany(x => x))
        {
            Assert.True(MailId.IsValid(id), id);
            Assert.True(ids.Add(id), "repeated id " + id);
        }
    }

    [Fact]
    public void New_UsesEveryPositionOfTheAlphabet()
    {
        // Not a statistical test: 12,000 characters from 64 symbols leave none unused unless a byte is stuck.
        var seen = new HashSet<char>();
        for (int i = 0; i < 1000; i++)
        {
            foreach (char c in MailId.New())
            {
                seen.Add(c);
            }
        }
        Assert.Equal(64, seen.Count);
    }
}
