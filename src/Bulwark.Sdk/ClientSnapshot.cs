using System.Text.Json.Nodes;
using Bulwark.Flags;

namespace Bulwark.Sdk;

/// <summary>An immutable set of compiled flags at one snapshot version, with the documents they came from.</summary>
internal sealed class ClientSnapshot
{
    private ClientSnapshot(long version, Dictionary<string, CompiledFlag> flags, Dictionary<string, JsonObject> documents)
    {
        Version = version;
        Flags = flags;
        Documents = documents;
    }

    public static ClientSnapshot Empty { get; } = new(0, new(StringComparer.Ordinal), new(StringComparer.Ordinal));

    public long Version { get; }

    public Dictionary<string, CompiledFlag> Flags { get; }

    public Dictionary<string, JsonObject> Documents { get; }

    /// <summary>Reads a snapshot document: <c>{ "version", "flags": [ flag documents with status ] }</c>.</summary>
    public static ClientSnapshot Parse(JsonObject body)
    {
        var snapshot = new ClientSnapshot(body["version"]!.GetValue<long>(), new(StringComparer.Ordinal), new(StringComparer.Ordinal));
        foreach (var flag in body["flags"]!.AsArray())
        {
            snapshot.Put(flag!.AsObject());
        }

        return snapshot;
    }

    /// <summary>A copy with one flag document applied (an archived flag is removed).</summary>
    public ClientSnapshot With(JsonObject document, long version)
    {
        var next = new ClientSnapshot(version, new(Flags, StringComparer.Ordinal), new(Documents, StringComparer.Ordinal));
        next.Put(document);
        return next;
    }

    public IReadOnlyList<string> ChangedKeys(ClientSnapshot? previous) =>
        [.. Documents.Keys.Union(previous?.Documents.Keys ?? Enumerable.Empty<string>()).Where(k =>
            previous is null || !previous.Documents.TryGetValue(k, out var before) || !Documents.TryGetValue(k, out var after) ||
            !JsonNode.DeepEquals(before, after))];

    public JsonObject ToDocument() => new()
    {
        ["version"] = Version,
        ["scheme"] = Bucketing.Scheme,
        ["flags"] = new JsonArray([.. Documents.Values.Select(d => (JsonNode)d.DeepClone())]),
    };

    private void Put(JsonObject document)
    {
        var key = document["key"]!.GetValue<string>();
        var status = document["status"]!.AsObject();
        if (status["archived"]?.GetValue<bool>() == true)
        {
            Flags.Remove(key);
            Documents.Remove(key);
            return;
        }

        var definition = document.DeepClone().AsObject();
        definition.Remove("status");
        var parsed = FlagKind.Instance.Read(definition);
        if (!parsed.IsValid)
        {
            throw new InvalidDataException($"flag '{key}' from the server does not validate: {string.Join("; ", parsed.Errors)}");
        }

        if (!FlagNames.States.TryGetValue(status["state"]!.GetValue<string>(), out var state) ||
            !Bucketing.TryToMillipercent(status["percentage"]!.GetValue<double>(), out var millipercent))
        {
            throw new InvalidDataException($"flag '{key}' has a status this client does not understand");
        }

        Flags[key] = new CompiledFlag(parsed.Value!, new FlagStatus(state, millipercent));
        Documents[key] = document;
    }
}
