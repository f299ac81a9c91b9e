using Microsoft.Extensions.Logging;

namespace ContentFilter.Checks.Greylisting;

/// <summary>Creates the store <see cref="GreylistOptions.Store"/> names.</summary>
public static class GreylistStoreFactory
{
    /// <summary>Opens the configured store.</summary>
    /// <param name="options">The greylist options.</param>
    /// <param name="loggers">Gives the SQLite store its logger (failed WAL checkpoints); null = none.</param>
    /// <param name="time">The clock spacing the SQLite store's warnings; null = the system's.</param>
    public static async Task<IGreylistStore> CreateAsync(GreylistOptions options, ILoggerFactory? loggers = null, TimeProvider? time = null)
    {
        return options.Store switch
        {
            "sqlite" => new SqliteGreylistStore(options.SqlitePath, loggers?.CreateLogger<SqliteGreylistStore>(), time),
            "redis" => await RedisGreylistStore.ConnectAsync(options.RedisConfiguration, options.RedisKeyPrefix).ConfigureAwait(false),
            _ => throw new ArgumentException($"unknown greylist store {options.Store}", nameof(options)),
        };
    }
}
