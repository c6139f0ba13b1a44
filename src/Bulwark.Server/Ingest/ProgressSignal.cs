namespace Bulwark.Server.Ingest;

/// <summary>
/// A worker's position (the last sequence number or offset it recorded), and a way to wait until it
/// reaches a value, without polling.
/// </summary>
internal sealed class ProgressSignal
{
    private long _position;
    private TaskCompletionSource _moved = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The position last recorded.</summary>
    public long Position => Volatile.Read(ref _position);

    /// <summary>Records a position and wakes every waiter.</summary>
    public void Record(long position)
    {
        Volatile.Write(ref _position, position);
        Interlocked.Exchange(ref _moved, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Completes once the position is at least <paramref name="position"/>.</summary>
    public async Task WhenAtLeastAsync(long position, CancellationToken cancellationToken)
    {
        while (true)
        {
            // The signal first, then the value: a recording in between completes the signal read here.
            var moved = Volatile.Read(ref _moved);
            if (Position >= position)
            {
                return;
            }

            await moved.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
