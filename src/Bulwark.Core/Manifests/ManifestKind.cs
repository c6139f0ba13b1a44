using System.Text.Json.Nodes;
using Bulwark.Identity;

namespace Bulwark.Manifests;

/// <summary>
/// One kind of manifest: its <c>kind:</c> name, the API collection it is served under
/// (<c>PUT /v1/&lt;plural&gt;/{name}</c>), the capability that changing it needs, and its validator. A manifest, an API
/// body and a <c>GET</c> answer share one shape: the fields at the top level beside <c>kind</c>.
/// </summary>
public abstract class ManifestKind
{
    /// <summary>The value of <c>kind:</c>, for example <c>Identity</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>The API collection, for example <c>identities</c>.</summary>
    public abstract string Plural { get; }

    /// <summary>The capability needed to change objects of this kind.</summary>
    public abstract Capability ChangeCapability { get; }

    /// <summary>Validates a document and returns the object's name when it has a valid one.</summary>
    /// <param name="document">The document, with or without <c>kind</c>.</param>
    /// <param name="errors">Where errors are added.</param>
    /// <returns>The definition, or <see langword="null"/> when invalid.</returns>
    public abstract object? Validate(JsonObject document, List<ManifestError> errors);

    /// <summary>The name of a validated definition.</summary>
    /// <param name="definition">A value returned by <see cref="Validate"/>.</param>
    /// <returns>Its name.</returns>
    public abstract string NameOf(object definition);

    /// <summary>The canonical document of a definition: what <c>GET</c> answers and what diffs compare.</summary>
    /// <param name="definition">A value returned by <see cref="Validate"/>.</param>
    /// <returns>The document, with <c>kind</c>.</returns>
    public abstract JsonObject ToDocument(object definition);
}

/// <summary>A manifest kind with a typed definition.</summary>
/// <typeparam name="T">The definition record.</typeparam>
public abstract class ManifestKind<T> : ManifestKind
    where T : class
{
    /// <summary>Validates a document into a definition, returning every error.</summary>
    /// <param name="document">The document, with or without <c>kind</c>.</param>
    /// <returns>The definition or the errors.</returns>
    public ManifestResult<T> Read(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var errors = new List<ManifestError>();
        var value = (T?)Validate(document, errors);
        return new ManifestResult<T>(errors.Count == 0 ? value : null, errors);
    }

    /// <inheritdoc />
    public sealed override object? Validate(JsonObject document, List<ManifestError> errors)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(errors);
        var before = errors.Count;
        var reader = new ManifestReader(document, string.Empty, errors);
        reader.Ignore("kind");
        if (document.TryGetPropertyValue("kind", out var kind) && kind?.GetValueKind() is not System.Text.Json.JsonValueKind.String)
        {
            reader.Error("kind", "must be a string");
        }
        else if (kind is not null && !string.Equals(kind.GetValue<string>(), Kind, StringComparison.Ordinal))
        {
            reader.Error("kind", $"must be '{Kind}' here, not '{kind.GetValue<string>()}'");
        }

        var definition = ReadCore(reader);
        reader.RejectUnknownFields();
        return errors.Count == before ? definition : null;
    }

    /// <inheritdoc />
    public sealed override string NameOf(object definition) => NameOfCore((T)definition);

    /// <inheritdoc />
    public sealed override JsonObject ToDocument(object definition)
    {
        var document = new JsonObject { ["kind"] = Kind };
        foreach (var (key, value) in WriteCore((T)definition))
        {
            document[key] = value?.DeepClone();
        }

        return document;
    }

    /// <summary>Reads the fields; report errors through <paramref name="reader"/>.</summary>
    /// <param name="reader">The reader over the document.</param>
    /// <returns>The definition, which is discarded if any error was reported.</returns>
    protected abstract T? ReadCore(ManifestReader reader);

    /// <summary>The name of a definition.</summary>
    /// <param name="definition">The definition.</param>
    /// <returns>Its name.</returns>
    protected abstract string NameOfCore(T definition);

    /// <summary>Writes the definition's fields (without <c>kind</c>).</summary>
    /// <param name="definition">The definition.</param>
    /// <returns>The fields.</returns>
    protected abstract JsonObject WriteCore(T definition);
}
