using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Flags;

namespace Bulwark.Server.Flags;

/// <summary>Reads an OpenFeature evaluation context from JSON, for <c>/v1/evaluate</c> and OFREP alike.</summary>
internal static class EvaluationContexts
{
    /// <summary>
    /// Strings are taken as they are, numbers and booleans as their JSON text, nulls are dropped; the names of
    /// attributes with other values (objects, arrays) are returned so the caller can refuse or ignore them.
    /// </summary>
    public static EvaluationContext Read(JsonObject? context, out IReadOnlyList<string> unsupported)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        var skipped = new List<string>();
        foreach (var (name, value) in context ?? [])
        {
            switch (value?.GetValueKind())
            {
                case JsonValueKind.String:
                    attributes[name] = value.GetValue<string>();
                    break;
                case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                    attributes[name] = value.ToJsonString();
                    break;
                case JsonValueKind.Null or null:
                    break;
                default:
                    skipped.Add(name);
                    break;
            }
        }

        unsupported = skipped;
        attributes.Remove(EvaluationContext.TargetingKeyAttribute, out var targetingKey);
        return new EvaluationContext(targetingKey, attributes);
    }
}
