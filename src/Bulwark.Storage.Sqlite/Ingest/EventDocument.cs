using Bulwark.Ingest;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>An event as the log stores it: Core's canonical v1 JSON (<see cref="EventJson"/>), read back validated.</summary>
internal static class EventDocument
{
    /// <summary>The event's document as UTF-8, which the log stores as TEXT as it is.</summary>
    public static byte[] Serialize(NormalizedEvent e) => EventJson.ToUtf8Bytes(e);

    /// <summary>Reads a stored document from its UTF-8 bytes (SQLite hands TEXT over as UTF-8: no transcoding).</summary>
    public static NormalizedEvent Deserialize(ReadOnlySpan<byte> utf8Json) =>
        EventJson.TryRead(utf8Json, out var value, out var errors)
            ? value
            : throw new InvalidDataException($"A stored event no longer reads as v1: {string.Join("; ", errors.Select(e => $"{e.Pointer} {e.Message}"))}");
}
