using System.Text.Json;

namespace Bulwark.Ingest;

/// <summary>
/// What every normalizer shares: the promise never to throw for a body (a body that cannot be read becomes
/// <see cref="NormalizeResult.Failed"/>, an item that cannot be mapped an issue) and the platform rule.
/// </summary>
internal abstract class NormalizerBase : INormalizer
{
    public abstract string Name { get; }

    public abstract string DefaultPlatform { get; }

    public NormalizeResult Normalize(NormalizeInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            return NormalizeCore(input);
        }
        catch (Exception e) when (IsBodyFault(e))
        {
            // A member read outside any one item (Meta's object, X's for_user_id, …) holds what the mapping cannot read.
            return NormalizeResult.Failed("the body could not be read: " + DescribeFault(e));
        }
#pragma warning disable CA1031 // The contract is "never throws for any body": a fault this code did not foresee quarantines the delivery with its reason.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return NormalizeResult.Failed($"internal error in the {Name} normalizer ({e.GetType().Name}): {e.Message}");
        }
    }

    protected abstract NormalizeResult NormalizeCore(NormalizeInput input);

    /// <summary>The source's platform when its manifest sets one, else <paramref name="fallback"/>.</summary>
    protected string PlatformOf(NormalizeInput input, string? fallback = null) =>
        string.IsNullOrEmpty(input.Platform) ? fallback ?? DefaultPlatform : input.Platform;

    /// <summary>Whether an exception says that a value in the body is not what the mapping reads (wrong type deep inside,
    /// text that is not valid Unicode, duplicate names): such an item becomes an issue, the others still map.</summary>
    protected static bool IsBodyFault(Exception e) =>
        e is InvalidOperationException or JsonException or FormatException or OverflowException or ArgumentException;

    protected static string DescribeFault(Exception e) => e switch
    {
        InvalidOperationException when e.Message.Contains("UTF", StringComparison.Ordinal) => "a value is not valid Unicode text",
        _ => $"a value could not be read: {e.Message}",
    };

    protected static string Describe(JsonElement element) => EventText.Describe(element.ValueKind);
}
