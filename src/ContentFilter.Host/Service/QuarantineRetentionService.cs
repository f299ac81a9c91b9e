using ContentFilter.Pipeline.Quarantine;
using Microsoft.Extensions.Hosting;

namespace ContentFilter.Host.Service;

/// <summary>Drops quarantined messages older than <c>Quarantine:RetentionDays</c>, at start and every hour.</summary>
public sealed class QuarantineRetentionService(FileQuarantineStore store, TimeProvider time) : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), time);
        do
        {
            store.PurgeExpired();
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
