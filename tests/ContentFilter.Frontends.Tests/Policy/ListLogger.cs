using Microsoft.Extensions.Logging;

namespace ContentFilter.Frontends.Tests.Policy;

/// <summary>Keeps log entries so tests can assert that trouble was logged clearly.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly List<(LogLevel Level, EventId Id, string Message)> _entries = [];

    public IReadOnlyList<(LogLevel Level, EventId Id, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return _entries.ToList();
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, eventId, formatter(state, exception)));
        }
    }
}
