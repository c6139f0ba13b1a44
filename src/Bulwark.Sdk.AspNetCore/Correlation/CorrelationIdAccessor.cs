namespace Bulwark.Sdk.AspNetCore.Correlation;

/// <summary>Reads the id the middleware put in the async flow; see <see cref="ICorrelationIdAccessor"/> for why an <see cref="AsyncLocal{T}"/>.</summary>
internal sealed class CorrelationIdAccessor : ICorrelationIdAccessor
{
    private static readonly AsyncLocal<string?> Current = new();

    public string? CorrelationId => Current.Value;

    /// <summary>Sets the id for the rest of the current async flow; the caller restores the previous one.</summary>
    public static string? Set(string? id)
    {
        var previous = Current.Value;
        Current.Value = id;
        return previous;
    }
}
