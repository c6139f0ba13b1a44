namespace Bulwark.TestUtils;

/// <summary>
/// A clock that moves only when a test advances it. Timers created from it fire when <see cref="Advance"/> passes
/// their due time. (Microsoft.Extensions.TimeProvider.Testing is not in the package registry here.)
/// </summary>
public sealed class FakeTimeProvider : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<FakeTimer> _timers = [];
    private DateTimeOffset _now;
    private long _timestamp;
    private TaskCompletionSource _scheduled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _timersChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public FakeTimeProvider(DateTimeOffset? start = null) => _now = start ?? new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public override long GetTimestamp()
    {
        lock (_gate)
        {
            return _timestamp;
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>Completes once some timer is due at a finite time (so that advancing the clock will fire it).</summary>
    public Task WaitForScheduledTimerAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _timers.Any(t => t.DueAt != DateTimeOffset.MaxValue) ? Task.CompletedTask : _scheduled.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The timers created and not yet disposed.</summary>
    public int ActiveTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count;
            }
        }
    }

    /// <summary>Completes once the number of timers created and not disposed is <paramref name="count"/>.</summary>
    public async Task WaitForActiveTimersAsync(int count, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_timers.Count == count)
                {
                    return;
                }

                changed = _timersChanged.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        List<FakeTimer> due;
        lock (_gate)
        {
            _now += by;
            _timestamp += by.Ticks;
            due = [.. _timers.Where(t => t.DueAt <= _now)];
        }

        foreach (var timer in due)
        {
            timer.Fire(_now);
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new FakeTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private void TimersChanged()
    {
        _timersChanged.TrySetResult();
        _timersChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class FakeTimer(FakeTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private TimeSpan _period;

        public DateTimeOffset DueAt { get; private set; } = DateTimeOffset.MaxValue;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                _period = period;
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : owner._now + dueTime;
                if (!owner._timers.Contains(this))
                {
                    owner._timers.Add(this);
                    owner.TimersChanged();
                }

                if (DueAt != DateTimeOffset.MaxValue)
                {
                    owner._scheduled.TrySetResult();
                    owner._scheduled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            return true;
        }

        public void Fire(DateTimeOffset now)
        {
            lock (owner._gate)
            {
                DueAt = _period > TimeSpan.Zero && _period != Timeout.InfiniteTimeSpan ? now + _period : DateTimeOffset.MaxValue;
            }

            callback(state);
        }

        public void Dispose()
        {
            lock (owner._gate)
            {
                if (owner._timers.Remove(this))
                {
                    owner.TimersChanged();
                }
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
