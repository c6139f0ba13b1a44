using System.Text.Json;

namespace Bulwark.Ingest;

/// <summary>
/// Validates events against schema v1 (<c>schemas/event-v1.schema.json</c>) without a JSON Schema library: every rule
/// of the schema (required members, no unknown members at the top or in <c>actor</c>, <c>schema_version</c> = <c>v1</c>,
/// string lengths in code points, the event type list or <c>^x-[a-z0-9_.-]{1,60}$</c>, country <c>^[A-Z]{2}$</c>, null
/// where the schema allows it, RFC 3339 date-times with a zone, <c>details</c> an object of at most 64 members), plus
/// what a lossless read needs: no member twice in one object, text that is valid Unicode, and details nested at most
/// 64 levels deep (counting the event). Every error is reported, each with a JSON Pointer. Thread-safe; allocates
/// nothing beyond the strings it reads when the event is valid.
/// </summary>
public static class EventSchema
{
    private static readonly EventSchemaError[] NoErrors = [];

    /// <summary>Checks one event in JSON form.</summary>
    /// <param name="element">The event.</param>
    /// <returns>Every error found, in document order (missing members last); empty when the event is valid.</returns>
    public static IReadOnlyList<EventSchemaError> Validate(JsonElement element)
    {
        List<EventSchemaError>? errors = null;
        EventReader.Read(element, materialize: false, ref errors);
        return errors ?? (IReadOnlyList<EventSchemaError>)NoErrors;
    }

    /// <summary>
    /// Checks an event built in memory (what a normalizer made) against the same rules, with the pointers its JSON form
    /// would have. Timestamps always pass: any <see cref="DateTimeOffset"/> is written as a valid date-time.
    /// </summary>
    /// <param name="value">The event.</param>
    /// <returns>Every error found; empty when the event is valid.</returns>
    public static IReadOnlyList<EventSchemaError> Validate(NormalizedEvent value)
    {
        ArgumentNullException.ThrowIfNull(value);
        List<EventSchemaError>? errors = null;
        EventReader.Check(value, ref errors);
        return errors ?? (IReadOnlyList<EventSchemaError>)NoErrors;
    }

    /// <summary>Whether <paramref name="value"/> is a valid <c>event_type</c>: a core type of
    /// <see cref="NormalizedEvent.CoreTypes"/> or a custom type matching <c>^x-[a-z0-9_.-]{1,60}$</c>.</summary>
    /// <param name="value">The candidate.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsEventType(string? value) => EventText.IsEventType(value);
}
