using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;

namespace Bulwark.Sdk;

/// <summary>One held flag: its definition (document and hash), its status document, and the compiled evaluator.</summary>
internal sealed record HeldFlag(FlagDefinition Definition, JsonObject DefinitionDocument, string DefinitionHash, JsonObject Status, CompiledFlag Compiled);

/// <summary>An immutable set of compiled flags at one snapshot version, with what is needed to save it and diff it.</summary>
internal sealed class ClientSnapshot
{
    private ClientSnapshot(long version, Dictionary<string, HeldFlag> held)
    {
        Version = version;
        Held = held;
    }

    public static ClientSnapshot Empty { get; } = new(0, new(StringComparer.Ordinal));

    public long Version { get; }

    /// <summary>Finds a flag's evaluator.</summary>
    public bool TryGetFlag(string key, out CompiledFlag flag)
    {
        if (Held.TryGetValue(key, out var held))
        {
            flag = held.Compiled;
            return true;
        }

        flag = null!;
        return false;
    }

    private Dictionary<string, HeldFlag> Held { get; }

    /// <summary>Reads a snapshot document: <c>{ "version", "flags": [ flag documents with status ] }</c>.</summary>
    public static ClientSnapshot Parse(JsonObject body)
    {
        var held = new Dictionary<string, HeldFlag>(StringComparer.Ordinal);
        foreach (var flag in body["flags"]!.AsArray())
        {
            Put(held, flag!.AsObject());
        }

        return new ClientSnapshot(body["version"]!.GetValue<long>(), held);
    }

    /// <summary>
    /// A copy with one stream event applied. When the event's definition hash matches the held definition, only the
    /// status is read; otherwise the whole flag document is parsed and validated. An archived flag is removed.
    /// </summary>
    public ClientSnapshot WithEvent(JsonElement data, out string key)
    {
        key = data.GetProperty("key").GetString()!;
        var version = data.GetProperty("version").GetInt64();
        var held = new Dictionary<string, HeldFlag>(Held, StringComparer.Ordinal);
        var status = data.GetProperty("status");
        if (Held.TryGetValue(key, out var current) &&
            string.Equals(data.GetProperty("definition_hash").GetString(), current.DefinitionHash, StringComparison.Ordinal))
        {
            if (status.GetProperty("archived").GetBoolean())
            {
                held.Remove(key);
            }
            else
            {
                var statusDocument = JsonObject.Create(status.Clone())!;
                held[key] = current with { Status = statusDocument, Compiled = new CompiledFlag(current.Definition, ReadStatus(key, statusDocument)) };
            }
        }
        else if (data.TryGetProperty("flag", out var flag))
        {
            Put(held, JsonObject.Create(flag.Clone())!);
        }
        else
        {
            // A status-only event for a definition this client does not hold: resynchronize from the snapshot.
            throw new InvalidDataException($"status-only event for '{key}' without its definition");
        }

        return new ClientSnapshot(version, held);
    }

    public IReadOnlyList<string> ChangedKeys(ClientSnapshot? previous) =>
        [.. Held.Keys.Union(previous?.Held.Keys ?? Enumerable.Empty<string>()).Where(k =>
            previous is null || !previous.Held.TryGetValue(k, out var before) || !Held.TryGetValue(k, out var after) ||
            before.DefinitionHash != after.DefinitionHash || !JsonNode.DeepEquals(before.Status, after.Status))];

    public JsonObject ToDocument() => new()
    {
        ["version"] = Version,
        ["scheme"] = Bucketing.Scheme,
        ["flags"] = new JsonArray([.. Held.Values.Select(h =>
        {
            var document = h.DefinitionDocument.DeepClone().AsObject();
            document["status"] = h.Status.DeepClone();
            return (JsonNode)document;
        })]),
    };

    private static void Put(Dictionary<string, HeldFlag> held, JsonObject document)
    {
        var key = document["key"]!.GetValue<string>();
        var status = document["status"]!.AsObject();
        document.Remove("status");
        if (status["archived"]?.GetValue<bool>() == true)
        {
            held.Remove(key);
            return;
        }

        var parsed = FlagKind.Instance.Read(document);
        if (!parsed.IsValid)
        {
            throw new InvalidDataException($"flag '{key}' from the server does not validate: {string.Join("; ", parsed.Errors)}");
        }

        held[key] = new HeldFlag(parsed.Value!, document, FlagKind.DefinitionHash(parsed.Value!), status, new CompiledFlag(parsed.Value!, ReadStatus(key, status)));
    }

    private static FlagStatus ReadStatus(string key, JsonObject status)
    {
        if (!FlagNames.States.TryGetValue(status["state"]!.GetValue<string>(), out var state) ||
            !Bucketing.TryToMillipercent(status["percentage"]!.GetValue<double>(), out var millipercent))
        {
            throw new InvalidDataException($"flag '{key}' has a status this client does not understand");
        }

        return new FlagStatus(state, millipercent);
    }
}
