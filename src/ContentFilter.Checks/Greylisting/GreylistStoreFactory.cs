namespace ContentFilter.Checks.Greylisting;

/// <summary>Creates the store <see cref="GreylistOptions.Store"/> names.</summary>
public static class GreylistStoreFactory
{
    /// <summary>Opens the configured store.</summary>
    public static async Task<IGreylistStore> CreateAsync(GreylistOptions options)
    {
        return options.Store switch
        {
            "sqlite" => new SqliteGreylistStore(options.SqlitePath),
            "redis" => await RedisGreylistStore.ConnectAsync(options.RedisConfiguration, options.RedisKeyPrefix).ConfigureAwait(false),
            _ => throw new ArgumentException($"unknown greylist store {options.Store}", nameof(options)),
        };
    }
}
