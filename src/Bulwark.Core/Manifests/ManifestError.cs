namespace Bulwark.Manifests;

/// <summary>One problem with a manifest or API body, at a JSON Pointer path such as <c>/roles/1</c>.</summary>
/// <param name="Path">The JSON Pointer (RFC 6901) of the offending value; empty for the whole document.</param>
/// <param name="Message">What is wrong, in a sentence a person can act on.</param>
public sealed record ManifestError(string Path, string Message)
{
    /// <inheritdoc />
    public override string ToString() => Path.Length == 0 ? Message : $"{Path}: {Message}";
}

/// <summary>The result of validating a document: the typed definition, or every error found.</summary>
/// <typeparam name="T">The definition type.</typeparam>
public sealed class ManifestResult<T>
    where T : class
{
    internal ManifestResult(T? value, IReadOnlyList<ManifestError> errors)
    {
        Value = value;
        Errors = errors;
    }

    /// <summary>The definition; <see langword="null"/> when there are errors.</summary>
    public T? Value { get; }

    /// <summary>Every error found, in the order the validator checks fields (unknown fields last); empty when valid.</summary>
    public IReadOnlyList<ManifestError> Errors { get; }

    /// <summary>Whether the document is valid.</summary>
    public bool IsValid => Errors.Count == 0;
}
