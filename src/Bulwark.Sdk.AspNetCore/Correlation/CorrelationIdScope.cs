using System.Collections;

namespace Bulwark.Sdk.AspNetCore.Correlation;

/// <summary>
/// The logging scope state: one <c>CorrelationId</c> pair, which structured providers read as a property, and a text
/// form for the console.
/// </summary>
internal sealed class CorrelationIdScope(string id) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public const string Key = "CorrelationId";

    public int Count => 1;

    public KeyValuePair<string, object?> this[int index] =>
        index == 0 ? new(Key, id) : throw new ArgumentOutOfRangeException(nameof(index));

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return this[0];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => $"{Key}:{id}";
}
