using System.Text;
using Bulwark.Ingest;

namespace Bulwark.Storage.Sqlite.Ingest;

/// <summary>An event as the log stores it: Core's canonical v1 JSON (<see cref="EventJson"/>), read back validated.</summary>
internal static class EventDocument
{
    public static string Serialize(NormalizedEvent e) => Encoding.UTF8.GetString(EventJson.ToUtf8Bytes(e));

    public static NormalizedEvent Deserialize(string json) =>
        EventJson.TryRead(Encoding.UTF8.GetBytes(json), out var value, out var errors)
            ? value
            : throw new InvalidDataException($"A stored event no longer reads as v1: {string.Join("; ", errors.Select(e => $"{e.Pointer} {e.Message}"))}");
}
