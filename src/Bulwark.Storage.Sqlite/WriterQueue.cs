using System.Threading.Channels;

namespace Bulwark.Storage.Sqlite;

/// <summary>What the stores' single writers share about their queues.</summary>
internal static class WriterQueue
{
    /// <summary>
    /// Stops a writer's queue for good after <paramref name="error"/>: it takes no more writes, and every caller in the
    /// batch in hand and every caller still queued learns why, so that nobody waits for a writer that is gone.
    /// </summary>
    public static void FailAll<T>(Channel<T> queue, List<T> batch, Exception error, Action<T, Exception> fail)
    {
        queue.Writer.TryComplete(error);
        foreach (var request in batch)
        {
            fail(request, error);
        }

        while (queue.Reader.TryRead(out var queued))
        {
            fail(queued, error);
        }
    }
}
