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
/// Throttles: policies, tightenings, manual blocks and unblocks, each audited (actions <c>throttle.create</c>,
/// <c>throttle.update</c>, <c>throttle.tighten</c>, <c>throttle.relax</c>, <c>throttle.block</c>,
/// <c>throttle.unblock</c>) and made live on this node once committed.
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

    /// <summary>Divides a throttle's rates by <paramref name="factor"/> (above 1) for <paramref name="ttl"/>; audited <c>throttle.tighten</c>.</summary>
    /// <exception cref="ProblemException">422 for a factor or a ttl out of range (nothing is stored: the engine would refuse it); 404 for an unknown throttle.</exception>
    public async Task<ThrottleRecord> TightenAsync(string name, double factor, IReadOnlyList<string>? layers, TimeSpan ttl, ChangeContext context, CancellationToken cancellationToken)
    {
        if (!(factor > 1 && factor <= ThrottleTightening.MaxFactor) || ttl <= TimeSpan.Zero || ttl > MaxTighteningTtl)
        {
            throw new ProblemException(ProblemKind.Validation, $"A tightening divides the rates by a factor above 1 and at most {ThrottleTightening.MaxFactor}, for at most {Durations.Format(MaxTighteningTtl)}.");
        }

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

    /// <summary>
    /// Blocks a key of a throttle until <c>now + duration</c>, or leaves a longer block in force as it is (an extension
    /// never shortens). A call carrying the <paramref name="changeKey"/> of the call that set the block is a repeat and
    /// changes nothing. Audited <c>throttle.block</c> when it changes something.
    /// </summary>
    /// <exception cref="ProblemException">404 when the throttle does not exist.</exception>
    public async Task<BlockOutcome> BlockAsync(string name, string key, TimeSpan duration, string? reason, string? changeKey, ChangeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var outcome = await store.WriteAsync(
            tx =>
            {
                Require(tx, name);
                var existing = tx.GetThrottleBlock(name, key);
                if (changeKey is not null && existing is not null && existing.ChangeKey == changeKey)
                {
                    return new BlockOutcome(existing, existing.PreviousUntil, PutOutcome.Unchanged);
                }

                var held = existing is not null && existing.InForceAt(tx.Now) ? existing : null;
                var until = AuditChain.Truncate(tx.Now + duration);
                if (held is not null && held.Until >= until)
                {
                    return new BlockOutcome(held, held.Until, PutOutcome.Unchanged);
                }

                var block = new ThrottleManualBlock
                {
                    Throttle = name,
                    Key = key,
                    Until = until,
                    Reason = reason ?? held?.Reason,
                    By = context.Actor,
                    CreatedAt = held?.CreatedAt ?? tx.Now,
                    UpdatedAt = tx.Now,
                    PreviousUntil = held?.Until,
                    ChangeKey = changeKey,
                };
                tx.PutThrottleBlock(block);
                tx.Append(context.Draft("throttle.block", "throttle/" + name, held?.ToDocument(), block.ToDocument()));
                return new BlockOutcome(block, held?.Until, held is null ? PutOutcome.Created : PutOutcome.Updated);
            },
            cancellationToken).ConfigureAwait(false);
        if (outcome.Outcome != PutOutcome.Unchanged)
        {
            await registry.RefreshBlocksAsync(name, CancellationToken.None).ConfigureAwait(false);
        }

        return outcome;
    }

    /// <summary>
    /// Undoes a block set by a call that found the key blocked until <c>previous</c> (or not blocked) and left it blocked
    /// until <c>set</c>: restores the earlier block, or lifts it. The call is known by what it reported
    /// (<paramref name="reported"/>), or, when its report was lost, by its idempotency key, which the block it set keeps
    /// (<paramref name="changeKey"/>). A block changed since (extended, shortened or lifted by someone else) is left as
    /// it is, so undoing twice changes nothing more. Audited <c>throttle.unblock</c> when it changes something.
    /// </summary>
    public async Task<(ThrottleManualBlock? Block, string Outcome)> RestoreBlockAsync(
        string name, string key, (DateTimeOffset Set, DateTimeOffset? Previous)? reported, string changeKey, ChangeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (block, outcome) = await store.WriteAsync(
            tx =>
            {
                var existing = tx.GetThrottleBlock(name, key);
                var held = existing is not null && existing.InForceAt(tx.Now) ? existing : null;
                var (setUntil, previousUntil) = reported ?? (held?.ChangeKey == changeKey ? (held!.Until, held.PreviousUntil) : (DateTimeOffset.MinValue, null));
                // Changed since, or the call found a block at least as long and changed nothing: nothing to undo.
                if (held is null || held.Until != setUntil || previousUntil == setUntil)
                {
                    return (held, "left");
                }

                if (previousUntil is { } until && until > tx.Now)
                {
                    var restored = held with { Until = until, By = context.Actor, UpdatedAt = tx.Now, PreviousUntil = null, ChangeKey = null };
                    tx.PutThrottleBlock(restored);
                    tx.Append(context.Draft("throttle.unblock", "throttle/" + name, held.ToDocument(), restored.ToDocument()));
                    return (restored, "restored");
                }

                tx.DeleteThrottleBlock(name, key);
                tx.Append(context.Draft("throttle.unblock", "throttle/" + name, held.ToDocument(), null));
                return ((ThrottleManualBlock?)null, "lifted");
            },
            cancellationToken).ConfigureAwait(false);
        if (outcome != "left")
        {
            await registry.RefreshBlocksAsync(name, CancellationToken.None).ConfigureAwait(false);
        }

        return (block, outcome);
    }

    /// <summary>
    /// Lifts a key's blocks and records who did it: its manual block (unless <paramref name="layer"/> names one layer)
    /// and its escalation blocks on this node (every layer, or only <paramref name="layer"/>), forgetting its denials.
    /// </summary>
    /// <returns>Whether anything was blocked.</returns>
    public async Task<bool> UnblockAsync(LiveThrottle throttle, string key, string? layer, ChangeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(throttle);
        ArgumentNullException.ThrowIfNull(context);
        var name = throttle.Record.Name;
        var blocks = throttle.Engine.Blocks(registry.Now).Where(b => (layer is null || b.Layer == layer) && b.Key == key).ToList();
        var escalated = throttle.Engine.Unblock(key, layer);
        var manual = await store.WriteAsync(
            tx =>
            {
                var held = layer is null && tx.GetThrottleBlock(name, key) is { } block && block.InForceAt(tx.Now) ? block : null;
                if (held is not null)
                {
                    tx.DeleteThrottleBlock(name, key);
                }

                if (held is not null || escalated)
                {
                    tx.Append(context.Draft(
                        "throttle.unblock",
                        "throttle/" + name,
                        new JsonObject { ["block"] = held?.ToDocument(), ["blocks"] = BlocksDocument(blocks) },
                        new JsonObject { ["key"] = key, ["layer"] = layer }));
                }

                return held;
            },
            cancellationToken).ConfigureAwait(false);
        if (manual is not null)
        {
            await registry.RefreshBlocksAsync(name, CancellationToken.None).ConfigureAwait(false);
        }

        return manual is not null || escalated;
    }

    /// <summary>The manual blocks of a throttle in force now, by key.</summary>
    public async Task<IReadOnlyList<ThrottleManualBlock>> ManualBlocksAsync(string name, CancellationToken cancellationToken)
    {
        var now = registry.Now;
        return [.. (await store.ListThrottleBlocksAsync(name, cancellationToken).ConfigureAwait(false)).Where(b => b.InForceAt(now))];
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
            ["kind"] = "escalation",
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

/// <summary>What a block request did.</summary>
/// <param name="Block">The block in force after it.</param>
/// <param name="PreviousUntil">The expiry of the block in force before it, if there was one.</param>
/// <param name="Outcome">Created (the key was not blocked), updated (extended) or unchanged (a longer block held, or a repeat).</param>
internal sealed record BlockOutcome(ThrottleManualBlock Block, DateTimeOffset? PreviousUntil, PutOutcome Outcome);
