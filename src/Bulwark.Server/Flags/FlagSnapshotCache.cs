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

/// <summary>
/// All flags at one snapshot version, compiled for evaluation and serialized for the stream. Built from the previous
/// snapshot, a flag whose version did not move keeps its event and compiled form, and one whose definition hash did not
/// move keeps its compiled definition: a kill costs one flag's work, whatever the number of flags.
/// </summary>
internal sealed class FlagSnapshot
{
    private readonly Dictionary<string, Entry> _entries;

    public FlagSnapshot(long version, IReadOnlyList<FlagRecord> flags, FlagSnapshot? previous = null)
    {
        Version = version;
        Flags = flags;
        _entries = new Dictionary<string, Entry>(flags.Count, StringComparer.Ordinal);
        var compiled = new Dictionary<string, CompiledFlag>(flags.Count, StringComparer.Ordinal);
        foreach (var flag in flags)
        {
            Entry? before = null;
            previous?._entries.TryGetValue(flag.Key, out before);
            var entry = before is not null && before.Record.Version == flag.Version ? before with { Record = flag } : Build(flag, before);
            _entries[flag.Key] = entry;
            if (entry.Compiled is not null)
            {
                compiled[flag.Key] = entry.Compiled;
            }
        }

        Events = [.. _entries.Values.OrderBy(e => e.Event.Version).Select(e => e.Event)];
        Compiled = compiled;
    }

    public long Version { get; }

    public IReadOnlyList<FlagRecord> Flags { get; }

    /// <summary>Every flag's latest event, in version order.</summary>
    public IReadOnlyList<FlagEvent> Events { get; }

    /// <summary>The index in <see cref="Events"/> of the first event newer than <paramref name="version"/> (binary search).</summary>
    public int FirstEventAfter(long version)
    {
        int low = 0, high = Events.Count;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (Events[middle].Version <= version)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    /// <summary>The flags that are not archived, ready to evaluate.</summary>
    public IReadOnlyDictionary<string, CompiledFlag> Compiled { get; }

    private static Entry Build(FlagRecord flag, Entry? before)
    {
        var hash = FlagKind.DefinitionHash(flag.Definition);
        var compact = new JsonObject
        {
            ["version"] = flag.Version,
            ["key"] = flag.Key,
            ["definition_hash"] = hash,
            ["status"] = FlagService.StatusDocument(flag),
        };
        var full = (JsonObject)compact.DeepClone();
        full["flag"] = FlagService.Document(flag);
        var sameDefinition = before is not null && before.Record.Version < flag.Version && before.Hash == hash;
        var change = new FlagEvent(flag.Version, flag.Key, full.ToJsonString(), sameDefinition ? compact.ToJsonString() : null, sameDefinition ? before!.Record.Version : long.MaxValue);
        var compiled = flag.Archived ? null
            : sameDefinition && before!.Compiled is not null ? before.Compiled.WithStatus(flag.Status)
            : new CompiledFlag(flag.Definition, flag.Status);
        return new Entry(flag, hash, change, compiled);
    }

    private sealed record Entry(FlagRecord Record, string Hash, FlagEvent Event, CompiledFlag? Compiled);
}

/// <summary>
/// The current flag snapshot, shared by the stream, evaluation and the snapshot endpoint. A change announces its version
/// (<see cref="Announce"/>), which starts one load from the store — one at a time, whatever the number of readers — and
/// each loaded snapshot is published before anyone waiting for it wakes: a thousand subscribers woken by a kill find the
/// new snapshot ready instead of queueing for it. In the scale-out adapter, PostgreSQL notifications will announce
/// changes made by other nodes.
/// </summary>
internal sealed class FlagSnapshotCache(IControlStore store)
{
    private readonly Lock _gate = new();
    private FlagSnapshot? _current;
    private long _announced;
    private Task<FlagSnapshot>? _loading;
    private TaskCompletionSource _published = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The newest version announced (possibly not loaded yet).</summary>
    public long Announced => Interlocked.Read(ref _announced);

    /// <summary>A write made <paramref name="version"/> durable: load it, unless a load that will see it is running.</summary>
    public void Announce(long version)
    {
        Raise(version);
        if (Volatile.Read(ref _current) is not { } current || current.Version < version)
        {
            // A failed load is retried by the next reader (a stream wakes at least every heartbeat).
            EnsureLoading().ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>The current snapshot: without awaiting when it is loaded, else once the load in flight publishes it.</summary>
    public ValueTask<FlagSnapshot> GetAsync(CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _current);
        return current is not null && current.Version >= Announced ? ValueTask.FromResult(current) : new(EnsureLoading().WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Completes when a snapshot newer than <paramref name="version"/> is published. One task is shared by every waiter
    /// and never faults or cancels: a waiter that can be cancelled awaits it together with its own signal.
    /// </summary>
    public Task NewerThan(long version)
    {
        var published = Volatile.Read(ref _published).Task;
        return Volatile.Read(ref _current) is { } current && current.Version > version ? Task.CompletedTask : published;
    }

    private Task<FlagSnapshot> EnsureLoading()
    {
        lock (_gate)
        {
            return _loading ??= Task.Run(LoadAsync);
        }
    }

    private async Task<FlagSnapshot> LoadAsync()
    {
        try
        {
            while (true)
            {
                var (flags, version) = await store.ListFlagsAsync(CancellationToken.None).ConfigureAwait(false);
                var snapshot = new FlagSnapshot(version, flags, Volatile.Read(ref _current));
                Volatile.Write(ref _current, snapshot);
                Raise(version);
                Interlocked.Exchange(ref _published, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                lock (_gate)
                {
                    // Decided under the lock that Announce takes to start a load: a version announced after this check
                    // finds no load in flight and starts one.
                    if (version >= Announced)
                    {
                        _loading = null;
                        return snapshot;
                    }
                }
            }
        }
        catch
        {
            lock (_gate)
            {
                _loading = null;
            }

            throw;
        }
    }

    private void Raise(long version)
    {
        var seen = Interlocked.Read(ref _announced);
        while (version > seen)
        {
            var actual = Interlocked.CompareExchange(ref _announced, version, seen);
            if (actual == seen)
            {
                return;
            }

            seen = actual;
        }
    }
}
