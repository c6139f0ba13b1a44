using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;

namespace Bulwark.Sdk;

/// <summary>
/// One held flag: its definition (parsed, and as the UTF-8 document it came in, without status), the definition hash,
/// its status as UTF-8 JSON, and the compiled evaluator. Documents are kept as bytes, not node trees: a client holds
/// every flag for as long as it runs.
/// </summary>
internal sealed record HeldFlag(string Key, FlagDefinition Definition, byte[] Document, string DefinitionHash, byte[] Status, CompiledFlag Compiled);

/// <summary>
/// An immutable set of compiled flags at one snapshot version, with what is needed to save it and diff it. Flags sit in
/// slots of an array behind a key index that snapshots share while the set of keys stays the same, so a status change —
/// a kill — copies one array of references and compiles nothing.
/// </summary>
internal sealed class ClientSnapshot
{
    private static readonly KeyValuePair<string, FlagState>[] States = [.. FlagNames.States];

    private readonly Dictionary<string, int> _index;
    private readonly HeldFlag[] _flags;

    private ClientSnapshot(long version, Dictionary<string, int> index, HeldFlag[] flags)
    {
        Version = version;
        _index = index;
        _flags = flags;
    }

    public static ClientSnapshot Empty { get; } = new(0, new(StringComparer.Ordinal), []);

    public long Version { get; }

    /// <summary>Finds a flag's evaluator.</summary>
    public bool TryGetFlag(string key, out CompiledFlag flag)
    {
        if (_index.TryGetValue(key, out var slot))
        {
            flag = _flags[slot].Compiled;
            return true;
        }

        flag = null!;
        return false;
    }

    /// <summary>Reads a snapshot document: <c>{ "version", "flags": [ flag documents with status ] }</c>.</summary>
    public static ClientSnapshot Parse(JsonObject body)
    {
        var held = new Dictionary<string, HeldFlag>(StringComparer.Ordinal);
        foreach (var flag in body["flags"]!.AsArray())
        {
            Put(held, flag!.AsObject());
        }

        return From(body["version"]!.GetValue<long>(), held);
    }

    /// <summary>
    /// A copy with one stream event applied. When the event's definition hash matches the held definition, only the
    /// status is read and the compiled definition is kept; otherwise the whole flag document is parsed and validated.
    /// An archived flag is removed.
    /// </summary>
    public ClientSnapshot WithEvent(JsonElement data, out string key)
    {
        key = data.GetProperty("key").GetString()!;
        var version = data.GetProperty("version").GetInt64();
        var status = data.GetProperty("status");
        if (_index.TryGetValue(key, out var slot) && data.GetProperty("definition_hash").ValueEquals(_flags[slot].DefinitionHash))
        {
            var current = _flags[slot];
            if (status.ValueKind == JsonValueKind.Object && status.TryGetProperty("archived", out var archived) && archived.ValueKind == JsonValueKind.True)
            {
                var remaining = ToDictionary();
                remaining.Remove(key);
                return From(version, remaining);
            }

            var flags = (HeldFlag[])_flags.Clone();
            flags[slot] = current with { Status = JsonMarshal.GetRawUtf8Value(status).ToArray(), Compiled = current.Compiled.WithStatus(ReadStatus(key, status)) };
            return new ClientSnapshot(version, _index, flags);
        }

        if (data.TryGetProperty("flag", out var flag))
        {
            var held = ToDictionary();
            Put(held, JsonObject.Create(flag.Clone())!);
            return From(version, held);
        }

        // A status-only event for a definition this client does not hold: resynchronize from the snapshot.
        throw new InvalidDataException($"status-only event for '{key}' without its definition");
    }

    public IReadOnlyList<string> ChangedKeys(ClientSnapshot? previous)
    {
        var changed = new List<string>();
        foreach (var after in _flags)
        {
            if (previous is null || !previous._index.TryGetValue(after.Key, out var slot) ||
                previous._flags[slot].DefinitionHash != after.DefinitionHash || !SameJson(previous._flags[slot].Status, after.Status))
            {
                changed.Add(after.Key);
            }
        }

        if (previous is not null)
        {
            changed.AddRange(previous._flags.Where(before => !_index.ContainsKey(before.Key)).Select(before => before.Key));
        }

        return changed;
    }

    public JsonObject ToDocument() => new()
    {
        ["version"] = Version,
        ["scheme"] = Bucketing.Scheme,
        ["flags"] = new JsonArray([.. _flags.Select(h =>
        {
            var document = JsonNode.Parse(h.Document)!.AsObject();
            document["status"] = JsonNode.Parse(h.Status);
            return (JsonNode)document;
        })]),
    };

    private static ClientSnapshot From(long version, Dictionary<string, HeldFlag> held)
    {
        HeldFlag[] flags = [.. held.Values.OrderBy(h => h.Key, StringComparer.Ordinal)];
        var index = new Dictionary<string, int>(flags.Length, StringComparer.Ordinal);
        for (var slot = 0; slot < flags.Length; slot++)
        {
            index[flags[slot].Key] = slot;
        }

        return new ClientSnapshot(version, index, flags);
    }

    private Dictionary<string, HeldFlag> ToDictionary() => _flags.ToDictionary(h => h.Key, StringComparer.Ordinal);

    private static void Put(Dictionary<string, HeldFlag> held, JsonObject document)
    {
        var key = document["key"]!.GetValue<string>();
        var status = Encoding.UTF8.GetBytes(document["status"]?.ToJsonString() ?? "null");
        document.Remove("status");
        using var parsedStatus = JsonDocument.Parse(status);
        if (parsedStatus.RootElement.ValueKind == JsonValueKind.Object &&
            parsedStatus.RootElement.TryGetProperty("archived", out var archived) && archived.ValueKind == JsonValueKind.True)
        {
            held.Remove(key);
            return;
        }

        var parsed = FlagKind.Instance.Read(document);
        if (!parsed.IsValid)
        {
            throw new InvalidDataException($"flag '{key}' from the server does not validate: {string.Join("; ", parsed.Errors)}");
        }

        var definition = parsed.Value!;
        held[key] = new HeldFlag(key, definition, Encoding.UTF8.GetBytes(document.ToJsonString()), FlagKind.DefinitionHash(definition), status,
            new CompiledFlag(definition, ReadStatus(key, parsedStatus.RootElement)));
    }

    /// <summary>Reads a status without allocating: the state name is matched in place.</summary>
    private static FlagStatus ReadStatus(string key, JsonElement status)
    {
        if (status.ValueKind == JsonValueKind.Object &&
            status.TryGetProperty("state", out var name) && name.ValueKind == JsonValueKind.String &&
            status.TryGetProperty("percentage", out var percentage) && percentage.ValueKind == JsonValueKind.Number &&
            percentage.TryGetDouble(out var percent) && Bucketing.TryToMillipercent(percent, out var millipercent))
        {
            foreach (var (wire, state) in States)
            {
                if (name.ValueEquals(wire))
                {
                    return new FlagStatus(state, millipercent);
                }
            }
        }

        throw new InvalidDataException($"flag '{key}' has a status this client does not understand");
    }

    private static bool SameJson(byte[] left, byte[] right)
    {
        if (left.AsSpan().SequenceEqual(right))
        {
            return true;
        }

        using var a = JsonDocument.Parse(left);
        using var b = JsonDocument.Parse(right);
        return JsonElement.DeepEquals(a.RootElement, b.RootElement);
    }
}
