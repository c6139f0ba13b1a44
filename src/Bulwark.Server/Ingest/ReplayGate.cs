namespace Bulwark.Server.Ingest;

/// <summary>
/// Lets one replay run at a time in this server: two at once would re-normalize the same snapshots twice, fight over
/// the consumers' offsets, and count two attempts on every quarantine entry they touch.
/// </summary>
internal sealed class ReplayGate
{
    private int _busy;

    /// <summary>Takes the gate if it is free; false when another replay holds it.</summary>
    public bool TryEnter() => Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

    /// <summary>Gives the gate back.</summary>
    public void Exit() => Volatile.Write(ref _busy, 0);
}
