using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Manifests;

/// <summary>One manifest document as read from a file: its body and where each value stands in the file.</summary>
public sealed record ManifestDocument
{
    /// <summary>The file it came from (or another label such as <c>request</c>).</summary>
    public required string Source { get; init; }

    /// <summary>The line (from 1) where the document starts.</summary>
    public required int Line { get; init; }

    /// <summary>The document as JSON.</summary>
    public required JsonObject Body { get; init; }

    /// <summary>The line of each value by JSON Pointer; values not listed report the document's line.</summary>
    public IReadOnlyDictionary<string, int> Lines { get; init; } = new Dictionary<string, int>();

    /// <summary>The line of the value at <paramref name="jsonPointer"/>, or of its nearest listed parent.</summary>
    /// <param name="jsonPointer">A JSON Pointer.</param>
    /// <returns>A line number from 1.</returns>
    public int LineOf(string jsonPointer)
    {
        ArgumentNullException.ThrowIfNull(jsonPointer);
        for (var path = jsonPointer; ; path = path[..path.LastIndexOf('/')])
        {
            if (Lines.TryGetValue(path, out var line))
            {
                return line;
            }

            if (path.Length == 0)
            {
                return Line;
            }
        }
    }
}

/// <summary>A manifest problem located in its file.</summary>
/// <param name="Source">The file.</param>
/// <param name="Line">The line, from 1.</param>
/// <param name="Path">The JSON Pointer inside the document.</param>
/// <param name="Message">What is wrong.</param>
public sealed record ManifestProblem(string Source, int Line, string Path, string Message)
{
    /// <inheritdoc />
    public override string ToString() => Path.Length == 0 ? $"{Source}:{Line}: {Message}" : $"{Source}:{Line}: {Path}: {Message}";
}

/// <summary>A validated manifest: its kind, its name and its typed definition.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Name">The object's name.</param>
/// <param name="Definition">The typed definition.</param>
/// <param name="Document">Where it came from.</param>
public sealed record ValidManifest(ManifestKind Kind, string Name, object Definition, ManifestDocument Document);

/// <summary>Validates a set of manifest documents together: each on its own, then duplicates across them.</summary>
public static class ManifestSet
{
    /// <summary>Validates every document and returns the valid ones in apply order, or every problem.</summary>
    /// <param name="documents">The documents, in file order.</param>
    /// <param name="problems">Every problem found, with file and line.</param>
    /// <returns>The valid manifests, in apply order (by kind, then file order).</returns>
    public static IReadOnlyList<ValidManifest> Validate(IEnumerable<ManifestDocument> documents, out IReadOnlyList<ManifestProblem> problems)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var found = new List<ManifestProblem>();
        var valid = new List<ValidManifest>();
        var seen = new Dictionary<(string Kind, string Name), ManifestDocument>();
        foreach (var document in documents)
        {
            if (!document.Body.TryGetPropertyValue("kind", out var kindNode) || kindNode is not JsonValue kindValue || kindValue.GetValueKind() != JsonValueKind.String)
            {
                found.Add(new ManifestProblem(document.Source, document.LineOf("/kind"), "/kind", $"is required: one of {ManifestKinds.Names}"));
                continue;
            }

            var kind = ManifestKinds.Find(kindValue.GetValue<string>());
            if (kind is null)
            {
                found.Add(new ManifestProblem(document.Source, document.LineOf("/kind"), "/kind", $"'{kindValue.GetValue<string>()}' is not a kind: use one of {ManifestKinds.Names}"));
                continue;
            }

            // A read-only status (what GET answers beside the definition) is not declared, so a GET answer saved to a file
            // applies as it is, as the API takes it back.
            var body = document.Body;
            if (body.ContainsKey("status"))
            {
                body = (JsonObject)body.DeepClone();
                body.Remove("status");
            }

            var errors = new List<ManifestError>();
            var definition = kind.Validate(body, errors);
            found.AddRange(errors.Select(e => new ManifestProblem(document.Source, document.LineOf(e.Path), e.Path, e.Message)));

            // Duplicates are reported even for invalid documents, so one run shows every problem.
            var name = definition is not null ? kind.NameOf(definition) : (document.Body["name"] as JsonValue)?.GetValueKind() == JsonValueKind.String ? document.Body["name"]!.GetValue<string>() : null;
            if (name is not null && seen.TryGetValue((kind.Kind, name), out var first))
            {
                found.Add(new ManifestProblem(document.Source, document.LineOf("/name"), "/name", $"{kind.Kind} '{name}' is also defined at {first.Source}:{first.Line}"));
                continue;
            }

            if (name is not null)
            {
                seen[(kind.Kind, name)] = document;
            }

            if (definition is not null)
            {
                valid.Add(new ValidManifest(kind, name!, definition, document));
            }
        }

        problems = found;
        return found.Count == 0 ? [.. valid.OrderBy(v => ManifestKinds.OrderOf(v.Kind))] : [];
    }
}
