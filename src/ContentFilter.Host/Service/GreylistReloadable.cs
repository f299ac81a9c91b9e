using ContentFilter.Checks.Greylisting;
using ContentFilter.Pipeline.Policy;

namespace ContentFilter.Host.Service;

/// <summary>Rereads postgrey's whitelist files on SIGHUP (the greylist database is not touched, as in postgrey).</summary>
public sealed class GreylistReloadable(GreylistEngine engine, GreylistOptions options) : IReloadable
{
    /// <inheritdoc />
    public string Name => "greylist whitelists";

    /// <inheritdoc />
    public ValueTask<Action> PrepareAsync(CancellationToken cancellationToken)
    {
        var warnings = new List<string>();
        GreylistWhitelists lists = GreylistWhitelists.Load(options.WhitelistClientFiles, options.WhitelistRecipientFiles, warnings);
        // Like postgrey, a bad line is skipped with a warning rather than refusing the whole file.
        return ValueTask.FromResult<Action>(() => engine.SetWhitelists(lists));
    }
}
