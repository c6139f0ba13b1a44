namespace Bulwark.Server.Ingest;

/// <summary>
/// Lets one replay run at a time in this server: two at once would re-normalize the same snapshots twice, fight over
/// the consumers' offsets, and count two attempts on every quarantine entry they touch.
/// </summary>
internal sealed class ReplayGate : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Takes the gate if it is free; false when another replay holds it.</summary>
    public bool TryEnter() => _gate.Wait(0);

    /// <summary>Gives the gate back.</summary>
    public void Exit() => _gate.Release();

    public void Dispose() => _gate.Dispose();
}
