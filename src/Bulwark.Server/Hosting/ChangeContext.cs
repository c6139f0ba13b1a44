using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Json;

namespace Bulwark.Server.Hosting;

/// <summary>Who is making a change, why, and under which correlation id: what every audit entry records.</summary>
/// <param name="Actor">The identity name, or <c>system:&lt;component&gt;</c>.</param>
/// <param name="CorrelationId">The request's or run's correlation id.</param>
/// <param name="Reason">The reason given, if any.</param>
public sealed record ChangeContext(string Actor, string? CorrelationId, string? Reason = null)
{
    /// <summary>A context for an automatic change by a component of Bulwark.</summary>
    /// <param name="component">For example <c>bootstrap</c>.</param>
    /// <param name="correlationId">The correlation id, if any.</param>
    /// <returns>The context with actor <c>system:&lt;component&gt;</c>.</returns>
    public static ChangeContext System(string component, string? correlationId = null) => new("system:" + component, correlationId);

    /// <summary>The audit entry of a change made in this context.</summary>
    /// <param name="action">For example <c>throttle.tighten</c>.</param>
    /// <param name="target">For example <c>throttle/password-reset</c>.</param>
    /// <param name="before">The object before, if it existed.</param>
    /// <param name="after">The object after, if it still exists.</param>
    /// <returns>The draft to append.</returns>
    public AuditDraft Draft(string action, string target, JsonObject? before, JsonObject? after) => new()
    {
        Actor = Actor,
        Action = action,
        Target = target,
        Before = CanonicalJson.Serialize(before),
        After = CanonicalJson.Serialize(after),
        Reason = Reason,
        CorrelationId = CorrelationId,
    };
}
