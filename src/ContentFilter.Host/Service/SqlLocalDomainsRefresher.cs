using ContentFilter.Host.Configuration;
using ContentFilter.Pipeline.Policy;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MySqlConnector;

namespace ContentFilter.Host.Service;

/// <summary>Keeps <see cref="LocalDomains"/> in step with a MariaDB/MySQL table, every <c>RefreshSeconds</c>.</summary>
/// <remarks>A database outage keeps the last good set (logged once per failure streak); mail never waits on the database.</remarks>
public sealed partial class SqlLocalDomainsRefresher(LocalDomainsSettings settings, LocalDomains domains, TimeProvider time, ILogger<SqlLocalDomainsRefresher> logger) : BackgroundService
{
    private bool _failing;

    /// <summary>Loads once: replaces the set on success, keeps it on failure. Returns true on success.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            var list = new List<string>(settings.Domains);
            await using var connection = new MySqlConnection(settings.Sql.ConnectionString);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(settings.Sql.TimeoutSeconds));
            await connection.OpenAsync(timeout.Token).ConfigureAwait(false);
            await using MySqlCommand command = connection.CreateCommand();
            command.CommandText = settings.Sql.Query;
            command.CommandTimeout = settings.Sql.TimeoutSeconds;
            await using MySqlDataReader reader = await command.ExecuteReaderAsync(timeout.Token).ConfigureAwait(false);
            while (await reader.ReadAsync(timeout.Token).ConfigureAwait(false))
            {
                if (!reader.IsDBNull(0))
                {
                    list.Add(reader.GetValue(0).ToString() ?? string.Empty);
                }
            }
            domains.Replace(list, time.GetUtcNow());
            if (_failing)
            {
                Log.Recovered(logger, domains.Count);
            }
            else
            {
                Log.Loaded(logger, domains.Count);
            }
            _failing = false;
            return true;
        }
        catch (Exception ex) when (ex is MySqlException or OperationCanceledException or InvalidOperationException or System.Net.Sockets.SocketException or ArgumentException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            if (!_failing)
            {
                Log.Failed(logger, domains.Count, ex.Message);
            }
            _failing = true;
            return false;
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(settings.Sql.RefreshSeconds), time);
        do
        {
            await RefreshAsync(stoppingToken).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 9101, Level = LogLevel.Information, Message = "Local domains loaded from SQL: {Count}")]
        public static partial void Loaded(ILogger logger, int count);

        [LoggerMessage(EventId = 9102, Level = LogLevel.Warning, Message = "Local domains: SQL refresh failed, keeping the last good set of {Count}: {Reason}")]
        public static partial void Failed(ILogger logger, int count, string reason);

        [LoggerMessage(EventId = 9103, Level = LogLevel.Information, Message = "Local domains: SQL is back, {Count} loaded")]
        public static partial void Recovered(ILogger logger, int count);
    }
}
