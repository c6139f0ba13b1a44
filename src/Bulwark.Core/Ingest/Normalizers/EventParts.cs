namespace Bulwark.Ingest;

/// <summary>
/// Builds the optional parts of an event from platform values so that a value the schema cannot hold costs that value,
/// not the event: empty strings are absent; an actor id, IP, device id or correlation id too long for the schema is
/// left out; a user agent is cut to 1,000 code points; a country is kept only when it is two ASCII letters (upper-cased).
/// </summary>
internal static class EventParts
{
    public static EventActor? Actor(string? id = null, string? ip = null, string? userAgent = null, string? country = null, string? deviceId = null)
    {
        id = Fit(id, EventReader.MaxActorIdLength);
        ip = Fit(ip, EventReader.MaxIpLength);
        userAgent = Cut(userAgent, EventReader.MaxUserAgentLength);
        country = Country(country);
        deviceId = Fit(deviceId, EventReader.MaxDeviceIdLength);
        return id is null && ip is null && userAgent is null && country is null && deviceId is null
            ? null
            : new EventActor(id, ip, userAgent, country, deviceId);
    }

    public static string? CorrelationId(string? value) => Fit(value, EventReader.MaxCorrelationIdLength);

    /// <summary>A two-letter code upper-cased, else <see langword="null"/> (Okta, for one, sends country names).</summary>
    public static string? Country(string? value) =>
        value is { Length: 2 } && char.IsAsciiLetter(value[0]) && char.IsAsciiLetter(value[1])
            ? value.ToUpperInvariant()
            : null;

    private static string? Fit(string? value, int max) =>
        string.IsNullOrEmpty(value) || !EventText.FitsIn(value, max) ? null : value;

    private static string? Cut(string? value, int max)
    {
        if (string.IsNullOrEmpty(value) || value.Length <= max)
        {
            return string.IsNullOrEmpty(value) ? null : value;
        }

        var codePoints = 0;
        var end = 0;
        while (end < value.Length && codePoints < max)
        {
            end += char.IsHighSurrogate(value[end]) && end + 1 < value.Length && char.IsLowSurrogate(value[end + 1]) ? 2 : 1;
            codePoints++;
        }

        return value[..end];
    }
}

/// <summary>Custom event types: <c>x-&lt;platform&gt;.&lt;name&gt;</c> within <c>^x-[a-z0-9_.-]{1,60}$</c>.</summary>
internal static class CustomEventType
{
    /// <summary>
    /// <c>x-</c> + <paramref name="prefix"/> + <c>.</c> + the name lower-cased, every other character than
    /// <c>a-z 0-9 _ . -</c> replaced by <c>_</c>, cut so that the part after <c>x-</c> is at most 60 characters.
    /// </summary>
    public static string From(string prefix, string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            name = "unknown";
        }

        var room = EventText.MaxCustomTypeSuffix - prefix.Length - 1;
        var length = Math.Min(name.Length, room);
        return string.Create(3 + prefix.Length + length, (prefix, name, length), static (span, state) =>
        {
            span[0] = 'x';
            span[1] = '-';
            state.prefix.AsSpan().CopyTo(span[2..]);
            var at = 2 + state.prefix.Length;
            span[at++] = '.';
            for (var i = 0; i < state.length; i++)
            {
                var c = char.ToLowerInvariant(state.name[i]);
                span[at++] = EventText.IsCustomTypeChar(c) ? c : '_';
            }
        });
    }
}
