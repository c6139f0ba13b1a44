namespace Bulwark.Ingest;

/// <summary>One way a value breaks event schema v1, at a JSON Pointer such as <c>/actor/country</c>.</summary>
/// <param name="Pointer">The JSON Pointer (RFC 6901) of the offending value (of the missing one, for a required field); empty for the whole event.</param>
/// <param name="Message">What is wrong, in a sentence a person can act on.</param>
#pragma warning disable CA1720 // It is a JSON Pointer (RFC 6901), not a memory pointer; the name says which syntax it has.
public readonly record struct EventSchemaError(string Pointer, string Message)
#pragma warning restore CA1720
{
    /// <inheritdoc />
    public override string ToString() => Pointer.Length == 0 ? Message : $"{Pointer}: {Message}";
}
