using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Json;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.Identity;
using Bulwark.Storage;
using Bulwark.Throttling;

namespace Bulwark.Server.Throttles;

/// <summary>
/// Throttles: policies, tightenings and unblocks, each audited (actions <c>throttle.create</c>, <c>throttle.update</c>,
/// <c>throttle.tighten</c>, <c>throttle.relax</c>, <c>throttle.unblock</c>) and made live on this node once committed.
/// </summary>
internal sealed class ThrottleService(IControlStore store, ThrottleRegistry registry)
{
    /// <summary>The longest a tightening may last.</summary>
    public static readonly TimeSpan MaxTighteningTtl = TimeSpan.FromDays(7);

    public async Task<(ThrottleRecord Throttle, PutOutcome Outcome)> PutAsync(ThrottlePolicy policy, ChangeContext context, CancellationToken cancellationToken)
    {
        var (throttle, outcome) = await store.WriteAsync(
            tx =>
            {
                var existing = tx.GetThrottle(policy.Name);
                if (existing is not null && CanonicalJson.AreEqual(ThrottleKind.Instance.ToDocument(existing.Policy), ThrottleKind.Instance.ToDocument(policy)))
                {
                    return (existing, PutOutcome.Unchanged);
                }

                var throttle = new ThrottleRecord
                {
                    Policy = policy,
                    Tightening = KeepTightening(existing?.Tightening, policy),
                    Version = 0,
                    CreatedAt = existing?.CreatedAt ?? tx.Now,
                    UpdatedAt = tx.Now,
                };
                return (Save(tx, throttle, existing, existing is null ? "throttle.create" : "throttle.update", context), existing is null ? PutOutcome.Created : PutOutcome.Updated);
            },
            cancellationToken).ConfigureAwait(false);
        await registry.ApplyAsync(throttle, CancellationToken.None).ConfigureAwait(false);
        return (throttle, outcome);
    }

    public async Task<ThrottleRecord> TightenAsync(string name, double factor, IReadOnlyList<string>? layers, TimeSpan ttl, ChangeContext context, CancellationToken cancellationToken)
    {
        var throttle = await store.WriteAsync(
            tx =>
            {
                var existing = Require(tx, name);
                var unknown = layers?.Where(l => existing.Policy.Layers.All(p => p.Name != l)).ToList();
                if (unknown is { Count: > 0 })
                {
                    throw new ProblemException(ProblemKind.Validation, $"Throttle '{name}' has no layer {string.Join(", ", unknown.Select(u => $"'{u}'"))}.");
                }

                var tightening = new ThrottleTighteningRecord(new ThrottleTightening(factor, layers, tx.Now + ttl), context.Actor, context.Reason, tx.Now);
                return Save(tx, existing with { Tightening = tightening, UpdatedAt = tx.Now }, existing, "throttle.tighten", context);
            },
            cancellationToken).ConfigureAwait(false);
        await registry.ApplyAsync(throttle, CancellationToken.None).ConfigureAwait(false);
        return throttle;
    }

    public async Task<ThrottleRecord> RelaxAsync(string name, ChangeContext context, CancellationToken cancellationToken)
    {
        var throttle = await store.WriteAsync(
            tx =>
            {
                var existing = Require(tx, name);
                return existing.TighteningAt(tx.Now) is null && existing.Tightening is null
                    ? existing
                    : Save(tx, existing with { Tightening = null, UpdatedAt = tx.Now }, existing, "throttle.relax", context);
            },
            cancellationToken).ConfigureAwait(false);
        await registry.ApplyAsync(throttle, CancellationToken.None).ConfigureAwait(false);
        return throttle;
    }

    /// <summary>Lifts a block on this node and records who did it.</summary>
    public async Task<bool> UnblockAsync(LiveThrottle throttle, string key, string? layer, ChangeContext context, CancellationToken cancellationToken)
    {
        var blocks = throttle.Engine.Blocks(registry.Now).Where(b => (layer is null || b.Layer == layer) && b.Key == key).ToList();
        if (!throttle.Engine.Unblock(key, layer))
        {
            return false;
        }

        await store.WriteAsync(
            tx => tx.Append(context.Draft("throttle.unblock", "throttle/" + throttle.Record.Name, new JsonObject { ["blocks"] = BlocksDocument(blocks) }, new JsonObject { ["key"] = key, ["layer"] = layer })),
            cancellationToken).ConfigureAwait(false);
        return true;
    }

    public static JsonObject Document(ThrottleRecord throttle, DateTimeOffset now)
    {
        var document = ThrottleKind.Instance.ToDocument(throttle.Policy);
        document["status"] = new JsonObject
        {
            ["version"] = throttle.Version,
            ["updated_at"] = AuditChain.FormatTime(throttle.UpdatedAt),
            ["tightening"] = throttle.TighteningAt(now)?.ToDocument(),
        };
        return document;
    }

    public static JsonArray BlocksDocument(IEnumerable<ThrottleBlock> blocks) =>
        [.. blocks.Select(b => (JsonNode)new JsonObject
        {
            ["layer"] = b.Layer,
            ["key"] = b.Key,
            ["until"] = AuditChain.FormatTime(b.Until),
            ["denials"] = b.Denials,
        })];

    /// <summary>A tightening survives a policy change only for layers that still exist.</summary>
    private static ThrottleTighteningRecord? KeepTightening(ThrottleTighteningRecord? tightening, ThrottlePolicy policy) =>
        tightening?.Tightening.Layers is not { } layers || layers.All(l => policy.Layers.Any(p => p.Name == l)) ? tightening : null;

    private static ThrottleRecord Require(IWriteTransaction tx, string name) =>
        tx.GetThrottle(name) ?? throw new ProblemException(ProblemKind.NotFound, $"Throttle '{name}' does not exist.");

    private static ThrottleRecord Save(IWriteTransaction tx, ThrottleRecord throttle, ThrottleRecord? before, string action, ChangeContext context)
    {
        var version = tx.PutThrottle(throttle);
        var saved = throttle with { Version = version };
        tx.Append(context.Draft(action, "throttle/" + throttle.Name, before is null ? null : Document(before, tx.Now), Document(saved, tx.Now)));
        return saved;
    }
}
