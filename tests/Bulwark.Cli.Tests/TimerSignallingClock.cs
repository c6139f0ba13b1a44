using System.Threading.Channels;
using Bulwark.Cli.Client;
using Bulwark.TestUtils;

namespace Bulwark.Cli.Tests;

/// <summary>
/// A fake clock that reports each timer a command sets on it to wait (its due time), so that a test moves the clock
/// only once the command waits on it. Each request's deadline (<see cref="ApiClient.DefaultWait"/>) is a timer too, and
/// is not reported.
/// </summary>
internal sealed class TimerSignallingClock : TimeProvider
{
    private readonly FakeTimeProvider _inner = new(new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero));
    private readonly Channel<TimeSpan> _timers = Channel.CreateUnbounded<TimeSpan>();

    public override long TimestampFrequency => _inner.TimestampFrequency;

    public override DateTimeOffset GetUtcNow() => _inner.GetUtcNow();

    public override long GetTimestamp() => _inner.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = _inner.CreateTimer(callback, state, dueTime, period);
        if (dueTime != ApiClient.DefaultWait)
        {
            _timers.Writer.TryWrite(dueTime);
        }

        return timer;
    }

    public Task<TimeSpan> NextTimerAsync() => _timers.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask();

    public void Advance(TimeSpan by) => _inner.Advance(by);
}
