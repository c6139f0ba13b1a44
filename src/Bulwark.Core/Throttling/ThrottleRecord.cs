using System.Text.Json.Nodes;
using Bulwark.Audit;

namespace Bulwark.Throttling;

/// <summary>A tightening as stored: what it does, who asked for it, when and why.</summary>
/// <param name="Tightening">The factor, layers and expiry.</param>
/// <param name="By">The identity (or <c>system:&lt;component&gt;</c>) that applied it.</param>
/// <param name="Reason">Why.</param>
/// <param name="At">When it was applied.</param>
public sealed record ThrottleTighteningRecord(ThrottleTightening Tightening, string By, string? Reason, DateTimeOffset At)
{
    /// <summary>The stored and API shape: <c>{ factor, layers, until, by, reason, at }</c>.</summary>
    /// <returns>The document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["factor"] = Tightening.Factor,
        ["layers"] = Tightening.Layers is { } layers ? new JsonArray([.. layers.Select(l => (JsonNode)l)]) : null,
        ["until"] = AuditChain.FormatTime(Tightening.Until),
        ["by"] = By,
        ["reason"] = Reason,
        ["at"] = AuditChain.FormatTime(At),
    };

    /// <summary>Reads <see cref="ToDocument"/> output.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The record.</returns>
    public static ThrottleTighteningRecord FromDocument(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return new ThrottleTighteningRecord(
            new ThrottleTightening(
                document["factor"]!.GetValue<double>(),
                document["layers"] is JsonArray layers ? [.. layers.Select(l => l!.GetValue<string>())] : null,
                AuditChain.ParseTime(document["until"]!.GetValue<string>())),
            document["by"]!.GetValue<string>(),
            document["reason"]?.GetValue<string>(),
            AuditChain.ParseTime(document["at"]!.GetValue<string>()));
    }
}

/// <summary>A stored throttle: its policy and the tightening in force, if any.</summary>
public sealed record ThrottleRecord
{
    /// <summary>The policy.</summary>
    public required ThrottlePolicy Policy { get; init; }

    /// <summary>The tightening applied last (it may have lapsed: compare its expiry with the time).</summary>
    public ThrottleTighteningRecord? Tightening { get; init; }

    /// <summary>The throttles version at which this throttle last changed.</summary>
    public required long Version { get; init; }

    /// <summary>When the throttle was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When its policy or tightening last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The throttle's name.</summary>
    public string Name => Policy.Name;

    /// <summary>The tightening in force at <paramref name="now"/>, if any.</summary>
    /// <param name="now">The time.</param>
    /// <returns>The tightening, or <see langword="null"/> when none is or it has lapsed.</returns>
    public ThrottleTighteningRecord? TighteningAt(DateTimeOffset now) => Tightening is { } t && t.Tightening.Until > now ? t : null;
}
