using System.Threading.Channels;
using Bulwark.Server.Hosting;
using Bulwark.Storage;
using Bulwark.Storage.Sqlite;
using Bulwark.TestUtils;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Bulwark.Server.Tests;

/// <summary>The loop of the server's periodic work (sweeps, expiries, the detection clock), and the idempotency sweep.</summary>
public sealed class PeriodicWorkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ARoundThatFails_IsLogged_AndTheNextRoundRuns_ThenStoppingEndsTheLoopQuietly()
    {
        var time = new FakeTimeProvider();
        var log = new ErrorLog();
        using var work = new Probe(time, log, new InvalidOperationException("the store is down"));
        await work.StartAsync(Ct);
        await time.WaitForScheduledTimerAsync(Ct);

        time.Advance(Probe.Period);
        (await work.Rounds.Reader.ReadAsync(Ct)).ShouldBe(1);
        time.Advance(Probe.Period);
        (await work.Rounds.Reader.ReadAsync(Ct)).ShouldBe(2);

        log.Errors.ShouldHaveSingleItem().ShouldContain("the store is down");
        work.ExecuteTask!.IsCompleted.ShouldBeFalse();
        await work.StopAsync(Ct);
        work.ExecuteTask.IsCompletedSuccessfully.ShouldBeTrue();
        log.Errors.Count.ShouldBe(1);
    }

    [Fact]
    public async Task TheIdempotencySweep_DeletesOnlyResponsesOlderThanTheRetention()
    {
        using var directory = new TempDirectory();
        var time = new FakeTimeProvider();
        await using var store = new SqliteControlStore(new SqliteStoreOptions { DataDirectory = directory.Path }, time);
        await store.MigrateAsync(Ct);
        var options = new BulwarkServerOptions();
        await store.WriteAsync(tx => { tx.PutIdempotency(Response("old", time.GetUtcNow() - options.IdempotencyRetention - TimeSpan.FromSeconds(1))); return true; }, Ct);
        await store.WriteAsync(tx => { tx.PutIdempotency(Response("recent", time.GetUtcNow() - options.IdempotencyRetention + TimeSpan.FromSeconds(1))); return true; }, Ct);
        using var sweeper = new IdempotencySweeper(store, time, Options.Create(options), NullLogger<IdempotencySweeper>.Instance);

        (await sweeper.SweepAsync(Ct)).ShouldBe(1);

        (await store.GetIdempotencyAsync("kim", "old", Ct)).ShouldBeNull();
        (await store.GetIdempotencyAsync("kim", "recent", Ct)).ShouldNotBeNull();
    }

    private static IdempotencyRecord Response(string key, DateTimeOffset createdAt) => new()
    {
        Scope = "kim",
        Key = key,
        Fingerprint = "f",
        Status = 201,
        Body = "{}"u8.ToArray(),
        CreatedAt = createdAt,
    };

    /// <summary>Counts its rounds into <see cref="Rounds"/>; its first round throws <paramref name="firstFailure"/>.</summary>
    private sealed class Probe(TimeProvider time, ILogger logger, Exception firstFailure) : PeriodicWork(time, logger, Period)
    {
        public static readonly TimeSpan Period = TimeSpan.FromMinutes(1);
        private int _round;

        public Channel<int> Rounds { get; } = Channel.CreateUnbounded<int>();

        protected override string Name => "Probe";

        protected override Task RunOnceAsync(CancellationToken stoppingToken)
        {
            var round = Interlocked.Increment(ref _round);
            Rounds.Writer.TryWrite(round);
            return round == 1 ? Task.FromException(firstFailure) : Task.CompletedTask;
        }
    }

    /// <summary>The error entries logged, with their exceptions.</summary>
    private sealed class ErrorLog : ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _errors = new();

        public IReadOnlyList<string> Errors => [.. _errors];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                _errors.Enqueue(formatter(state, exception) + " " + exception?.Message);
            }
        }
    }
}
