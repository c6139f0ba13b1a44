using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Bulwark.Sdk.AspNetCore.Tests;

/// <summary>Keeps every log message with the scopes that were open when it was written.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public ConcurrentQueue<(string Message, IReadOnlyList<object?> Scopes)> Entries { get; } = new();

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    /// <summary>The value of <paramref name="key"/> in the scopes of the message <paramref name="message"/>; null when absent.</summary>
    public object? ScopeValue(string message, string key) =>
        Entries.Single(e => e.Message == message).Scopes
            .OfType<IEnumerable<KeyValuePair<string, object?>>>()
            .SelectMany(pairs => pairs)
            .Where(pair => pair.Key == key)
            .Select(pair => pair.Value)
            .SingleOrDefault();

    private sealed class Logger(CapturingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new List<object?>();
            owner._scopes.ForEachScope((scope, list) => list.Add(scope), scopes);
            owner.Entries.Enqueue((formatter(state, exception), scopes));
        }
    }
}

internal static partial class TestLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "{Text}")]
    public static partial void Message(ILogger logger, string text);
}
