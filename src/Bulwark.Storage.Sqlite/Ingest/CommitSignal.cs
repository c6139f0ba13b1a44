namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>
/// A committed position (last snapshot sequence number, last event offset) and a signal for waiters. The writer moves
/// it after each commit; the task waiters hold is completed and swapped in one step, so a waiter that read the task
/// before checking the position cannot miss a commit, and nobody polls.
/// </summary>
internal sealed class CommitSignal
{
    private TaskCompletionSource _next = NewSignal();
    private long _position;

    public long Position => Volatile.Read(ref _position);

    /// <summary>Publishes a committed position (never backwards) and wakes every waiter.</summary>
    public void Advance(long position)
    {
        if (position <= Position)
        {
            return;
        }

        Volatile.Write(ref _position, position);
        Interlocked.Exchange(ref _next, NewSignal()).TrySetResult();
    }

    /// <summary>Fails every waiter, now and later (the store is closed or its writer stopped).</summary>
    public void Fail(Exception error)
    {
        var failed = NewSignal();
        failed.SetException(error);
        var previous = Interlocked.Exchange(ref _next, failed);
        previous.TrySetException(error);

        // Nobody may be waiting: read the exceptions so they do not surface as unobserved.
        _ = failed.Task.Exception;
        _ = previous.Task.Exception;
    }

    public Task WaitBeyondAsync(long after, CancellationToken cancellationToken) =>
        Position > after ? Task.CompletedTask : WaitCoreAsync(after, cancellationToken);

    private async Task WaitCoreAsync(long after, CancellationToken cancellationToken)
    {
        while (true)
        {
            var next = Volatile.Read(ref _next);
            if (Position > after)
            {
                return;
            }

            await next.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
