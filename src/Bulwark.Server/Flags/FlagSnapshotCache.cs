using System.Text.Json.Nodes;
using Bulwark.Flags;
using Bulwark.Storage;

namespace Bulwark.Server.Flags;

/// <summary>
/// One flag as the stream sends it, serialized once for every subscriber: the full event, and — when the change touched
/// only the status — a compact one for subscribers that have seen the flag at <paramref name="StatusOnlySince"/> or later
/// and so hold its definition.
/// </summary>
internal sealed record FlagEvent(long Version, string Key, string Data, string? StatusOnlyData, long StatusOnlySince)
{
    /// <summary>The whole SSE frame, encoded once for every subscriber.</summary>
    public byte[] Frame { get; } = Encode(Version, Data);

    /// <summary>The compact frame, when there is one.</summary>
    public byte[]? StatusOnlyFrame { get; } = StatusOnlyData is null ? null : Encode(Version, StatusOnlyData);

    private static byte[] Encode(long version, string data) =>
        System.Text.Encoding.UTF8.GetBytes($"id: {version.ToString(System.Globalization.CultureInfo.InvariantCulture)}\nevent: flag\ndata: {data}\n\n");
}

/// <summary>All flags at one snapshot version, compiled for evaluation and serialized for the stream.</summary>
internal sealed class FlagSnapshot
{
    public FlagSnapshot(long version, IReadOnlyList<FlagRecord> flags, FlagSnapshot? previous = null)
    {
        Version = version;
        Flags = flags;
        Hashes = flags.ToDictionary(f => f.Key, f => FlagKind.DefinitionHash(f.Definition), StringComparer.Ordinal);
        Events = [.. flags.OrderBy(f => f.Version).Select(f =>
        {
            var compact = new JsonObject
            {
                ["version"] = f.Version,
                ["key"] = f.Key,
                ["definition_hash"] = Hashes[f.Key],
                ["status"] = FlagService.StatusDocument(f),
            };
            var full = (JsonObject)compact.DeepClone();
            full["flag"] = FlagService.Document(f);
            var before = previous?.Flags.FirstOrDefault(p => p.Key == f.Key);
            var statusOnly = before is not null && before.Version < f.Version && previous!.Hashes[f.Key] == Hashes[f.Key];
            return new FlagEvent(f.Version, f.Key, full.ToJsonString(), statusOnly ? compact.ToJsonString() : null, statusOnly ? before!.Version : long.MaxValue);
        })];
        Compiled = flags.Where(f => !f.Archived).ToDictionary(f => f.Key, f => new CompiledFlag(f.Definition, f.Status), StringComparer.Ordinal);
    }

    public long Version { get; }

    public IReadOnlyList<FlagRecord> Flags { get; }

    /// <summary>Each flag's definition hash.</summary>
    public IReadOnlyDictionary<string, string> Hashes { get; }

    /// <summary>Every flag's latest event, in version order.</summary>
    public IReadOnlyList<FlagEvent> Events { get; }

    public IReadOnlyDictionary<string, CompiledFlag> Compiled { get; }
}

/// <summary>
/// The current flag snapshot, shared by the stream, evaluation and the snapshot endpoint. A change announces its version
/// (<see cref="Announce"/>); the next reader refreshes from the store once, whatever the number of readers, and waiters
/// wake. In the scale-out adapter, PostgreSQL notifications will announce changes made by other nodes.
/// </summary>
internal sealed class FlagSnapshotCache(IControlStore store) : IDisposable
{
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private FlagSnapshot? _current;
    private long _announced;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The newest version announced (possibly not loaded yet).</summary>
    public long Announced => Interlocked.Read(ref _announced);

    public void Announce(long version)
    {
        long seen;
        while (version > (seen = Interlocked.Read(ref _announced)))
        {
            if (Interlocked.CompareExchange(ref _announced, version, seen) == seen)
            {
                Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                return;
            }
        }
    }

    public async Task<FlagSnapshot> GetAsync(CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && current.Version >= Announced)
        {
            return current;
        }

        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            current = Volatile.Read(ref _current);
            if (current is not null && current.Version >= Announced)
            {
                return current;
            }

            var (flags, version) = await store.ListFlagsAsync(cancellationToken).ConfigureAwait(false);
            current = new FlagSnapshot(version, flags, current);
            Volatile.Write(ref _current, current);
            Announce(version);
            return current;
        }
        finally
        {
            _refresh.Release();
        }
    }

    public void Dispose() => _refresh.Dispose();

    /// <summary>Completes when a version newer than <paramref name="version"/> is announced.</summary>
    public Task WaitForNewerAsync(long version, CancellationToken cancellationToken)
    {
        var changed = Volatile.Read(ref _changed).Task;
        return Announced > version ? Task.CompletedTask : changed.WaitAsync(cancellationToken);
    }
}
