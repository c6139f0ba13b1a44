using System.Globalization;
using System.Text.Json.Nodes;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Manifests;
using Bulwark.Problems;
using Bulwark.Response;
using Bulwark.Server.Flags;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;
using Bulwark.Server.MassActions;
using Bulwark.Server.Throttles;
using Bulwark.Storage;
using Bulwark.Throttling;

namespace Bulwark.Server.Response;

/// <summary>
/// The actions that act on Bulwark itself, through the same services (and so the same audit entries and rules) as
/// the API: <c>flag.kill</c> and <c>flag.set_state</c>, <c>throttle.tighten</c> and <c>throttle.relax</c>,
/// <c>throttle.block</c> and <c>throttle.unblock</c>, <c>mass_action.halt</c>. The playbook acts as
/// <c>system:playbook/&lt;name&gt;</c> with the responder and operator roles, so a transition that needs a second
/// person (per the flag rules) is left pending and the call fails visibly. Each call records in its output what its
/// compensation needs (the flag's previous state, the throttle's previous tightening, the block a key had), and a
/// repeated call is harmless: killing a killed flag, halting a halted action, blocking a blocked key succeed.
/// </summary>
internal sealed class BuiltInActions(IControlStore store, FlagService flags, ThrottleService throttles, ThrottleRegistry registry, MassActionService massActions, TimeProvider time) : IActionHandler
{
    public IReadOnlyCollection<string> Actions { get; } =
        ["flag.kill", "flag.set_state", "throttle.tighten", "throttle.relax", "throttle.block", "throttle.unblock", "mass_action.halt"];

    public async Task<ActionOutcome> ExecuteAsync(ActionCall call, CancellationToken cancellationToken)
    {
        var context = new ChangeContext("system:playbook/" + call.Playbook, call.CorrelationId, $"run {call.RunId}, step {call.StepId}, incident {call.Incident.Id}");
        try
        {
            return call.Action switch
            {
                "flag.kill" => await SetFlagAsync(call, Text(call, "flag"), new FlagStatus(FlagState.EmergencyOff, 0), context, cancellationToken).ConfigureAwait(false),
                "flag.set_state" => await SetFlagAsync(call, Text(call, "flag"), TargetState(call), context, cancellationToken).ConfigureAwait(false),
                "throttle.tighten" => await TightenAsync(call, context, cancellationToken).ConfigureAwait(false),
                "throttle.relax" => await RelaxAsync(call, context, cancellationToken).ConfigureAwait(false),
                "throttle.block" => await BlockAsync(call, context, cancellationToken).ConfigureAwait(false),
                "throttle.unblock" => await UnblockAsync(call, context, cancellationToken).ConfigureAwait(false),
                "mass_action.halt" => await HaltAsync(call, context, cancellationToken).ConfigureAwait(false),
                _ => ActionOutcome.Failed(RetryOn.None, $"'{call.Action}' is not a built-in action"),
            };
        }
        catch (ProblemException e)
        {
            // Not found, conflict, forbidden, invalid: no retry can fix these.
            return ActionOutcome.Failed(RetryOn.None, e.Message);
        }
        catch (ArgumentException e)
        {
            return ActionOutcome.Failed(RetryOn.None, e.Message);
        }
    }

    public JsonObject Describe(ActionCall call) => new()
    {
        ["action"] = call.Action,
        ["target"] = call.Target,
        ["parameters"] = call.Parameters.DeepClone(),
        ["actor"] = "system:playbook/" + call.Playbook,
    };

    private IdentityRecord Caller(ActionCall call) => new()
    {
        Name = "system:playbook/" + call.Playbook,
        Roles = [Role.Responder, Role.Operator],
        CreatedAt = time.GetUtcNow(),
        UpdatedAt = time.GetUtcNow(),
    };

    private async Task<ActionOutcome> SetFlagAsync(ActionCall call, string key, FlagStatus to, ChangeContext context, CancellationToken cancellationToken)
    {
        var before = await store.GetFlagAsync(key, cancellationToken).ConfigureAwait(false)
            ?? throw new ProblemException(ProblemKind.NotFound, $"Flag '{key}' does not exist.");
        var output = new JsonObject
        {
            ["flag"] = key,
            ["previous_state"] = StateName(before.Status.State),
            ["previous_millipercent"] = before.Status.Millipercent,
        };
        if (before.Status == to)
        {
            return ActionOutcome.Success(output: output);
        }

        var result = await flags.RequestStateAsync(key, to, breakGlass: false, Caller(call), context, cancellationToken).ConfigureAwait(false);
        return result.Pending is { } pending
            ? ActionOutcome.Failed(RetryOn.None, $"Changing flag '{key}' to {StateName(to.State)} needs a second person's approval: change {pending.Id} is pending.")
            : ActionOutcome.Success(output: output);
    }

    /// <summary>The state asked for, or (a compensation without one) the state the forward call recorded.</summary>
    private static FlagStatus TargetState(ActionCall call)
    {
        var source = call.Parameters.ContainsKey("state") ? call.Parameters : call.Previous
            ?? throw new ArgumentException("flag.set_state needs 'state' (OFF, CANARY, GRADUAL, GLOBAL)");
        var name = source["state"]?.GetValue<string>() ?? source["previous_state"]?.GetValue<string>()
            ?? throw new ArgumentException("flag.set_state needs 'state' (OFF, CANARY, GRADUAL, GLOBAL)");
        if (!FlagNames.States.TryGetValue(name.ToUpperInvariant(), out var state))
        {
            throw new ArgumentException($"'{name}' is not a flag state (OFF, CANARY, GRADUAL, GLOBAL, EMERGENCY_OFF)");
        }

        var millipercent = source["millipercent"]?.GetValue<int>() ?? source["previous_millipercent"]?.GetValue<int>()
            ?? (int)Math.Round((source["percent"]?.GetValue<double>() ?? (state == FlagState.Global ? 100 : 0)) * 1000);
        return new FlagStatus(state, millipercent);
    }

    /// <summary>
    /// Leaves a <c>factor</c> (default 0.5) of a throttle's rates <c>for</c> a while (default 1h, at most 7d; <c>ttl</c>
    /// is read when <c>for</c> is not given): 0.25 divides them by 4, as a tightening through the API does.
    /// </summary>
    private async Task<ActionOutcome> TightenAsync(ActionCall call, ChangeContext context, CancellationToken cancellationToken)
    {
        var name = Text(call, "throttle");
        var factor = call.Parameters["factor"]?.GetValue<double>() ?? 0.5;
        if (!(factor > 0 && factor < 1) || 1 / factor > ThrottleTightening.MaxFactor)
        {
            throw new ArgumentException($"throttle.tighten needs a 'factor' (the share of the rates left) above {1 / ThrottleTightening.MaxFactor} and below 1");
        }

        var ttl = TimeSpan.FromHours(1);
        if ((call.Parameters["for"] ?? call.Parameters["ttl"]) is { } ttlNode
            && (!(ttlNode is JsonValue ttlValue && ttlValue.TryGetValue<string>(out var ttlText) && Durations.TryParse(ttlText, out ttl))
                || ttl < TimeSpan.FromSeconds(1) || ttl > ThrottleService.MaxTighteningTtl))
        {
            throw new ArgumentException($"throttle.tighten needs 'for' to be a duration from 1s to {Durations.Format(ThrottleService.MaxTighteningTtl)}");
        }

        var layers = call.Parameters["layers"] is JsonArray list ? list.Select(l => l!.GetValue<string>()).ToList() : null;
        var tightened = await throttles.TightenAsync(name, 1 / factor, layers, ttl, context, cancellationToken).ConfigureAwait(false);
        return ActionOutcome.Success(output: new JsonObject
        {
            ["throttle"] = name,
            ["factor"] = factor,
            ["until"] = Bulwark.Audit.AuditChain.FormatTime(tightened.Tightening!.Tightening.Until),
        });
    }

    private async Task<ActionOutcome> RelaxAsync(ActionCall call, ChangeContext context, CancellationToken cancellationToken)
    {
        var name = call.Parameters["throttle"]?.GetValue<string>() ?? call.Previous?["throttle"]?.GetValue<string>()
            ?? throw new ArgumentException("throttle.relax needs 'throttle'");
        await throttles.RelaxAsync(name, context, cancellationToken).ConfigureAwait(false);
        return ActionOutcome.Success(output: new JsonObject { ["throttle"] = name });
    }

    /// <summary>
    /// Blocks <c>key</c> (default: the call's target, an account or an address) of <c>throttle</c> <c>for</c> a while
    /// (default 24h, at most 30d). The output keeps the expiry it set and the one it found, for its compensation.
    /// </summary>
    private async Task<ActionOutcome> BlockAsync(ActionCall call, ChangeContext context, CancellationToken cancellationToken)
    {
        var name = Text(call, "throttle");
        var key = BlockKey(call, null);
        var duration = ThrottleManualBlock.DefaultDuration;
        if (call.Parameters["for"] is { } forNode)
        {
            var text = forNode is JsonValue value && value.TryGetValue<string>(out var given) ? given : forNode.ToJsonString();
            if (!Durations.TryParse(text, out duration) || duration < TimeSpan.FromSeconds(1) || duration > ThrottleManualBlock.MaxDuration)
            {
                throw new ArgumentException($"throttle.block needs 'for' to be a duration from 1s to {Durations.Format(ThrottleManualBlock.MaxDuration)}, not '{text}'");
            }
        }

        var reason = call.Parameters["reason"] is JsonValue reasonValue && reasonValue.TryGetValue<string>(out var reasonText) && reasonText.Length > 0
            ? reasonText[..Math.Min(reasonText.Length, ThrottleManualBlock.MaxReasonLength)]
            : $"playbook {call.Playbook}, incident {call.Incident.Id}";
        var outcome = await throttles.BlockAsync(name, key, duration, reason, call.IdempotencyKey, context, cancellationToken).ConfigureAwait(false);
        return ActionOutcome.Success(output: new JsonObject
        {
            ["throttle"] = name,
            ["key"] = key,
            ["blocked_until"] = Bulwark.Audit.AuditChain.FormatTime(outcome.Block.Until),
            ["previous_until"] = outcome.PreviousUntil is { } previous ? Bulwark.Audit.AuditChain.FormatTime(previous) : null,
        });
    }

    /// <summary>
    /// Lifts the blocks of <c>key</c> (default: the target) of <c>throttle</c>; no block is fine. As the compensation of
    /// a block, it undoes what that block did (its output in <see cref="ActionCall.Previous"/> says what; when the output
    /// was lost in a crash, the block's stored idempotency key identifies it): restores the block the key had before,
    /// or lifts it; a block someone changed since is left alone.
    /// </summary>
    private async Task<ActionOutcome> UnblockAsync(ActionCall call, ChangeContext context, CancellationToken cancellationToken)
    {
        const string Suffix = ".compensate";
        var compensation = call.StepId.EndsWith(Suffix, StringComparison.Ordinal);
        var previous = compensation ? call.Previous : null;
        var name = call.Parameters["throttle"] is JsonValue n && n.TryGetValue<string>(out var given) && given.Length > 0 ? given
            : previous?["throttle"]?.GetValue<string>() ?? throw new ArgumentException("throttle.unblock needs 'throttle' (as a compensation: in its 'with', or from the block's output)");
        var key = BlockKey(call, previous);
        if (compensation)
        {
            var reported = previous?["blocked_until"]?.GetValue<string>() is { } setUntil
                ? (Bulwark.Audit.AuditChain.ParseTime(setUntil), previous["previous_until"]?.GetValue<string>() is { } text ? Bulwark.Audit.AuditChain.ParseTime(text) : (DateTimeOffset?)null)
                : ((DateTimeOffset, DateTimeOffset?)?)null;
            var forwardKey = RunPlanner.IdempotencyKey(call.RunId, call.StepId[..^Suffix.Length], call.Target);
            var (block, what) = await throttles.RestoreBlockAsync(name, key, reported, forwardKey, context, cancellationToken).ConfigureAwait(false);
            return ActionOutcome.Success(output: new JsonObject
            {
                ["throttle"] = name,
                ["key"] = key,
                ["outcome"] = what,
                ["blocked_until"] = block is null ? null : Bulwark.Audit.AuditChain.FormatTime(block.Until),
            });
        }

        if (await registry.FindAsync(name, cancellationToken).ConfigureAwait(false) is not { } throttle)
        {
            throw new ProblemException(ProblemKind.NotFound, $"Throttle '{name}' does not exist.");
        }

        var lifted = await throttles.UnblockAsync(throttle, key, null, context, cancellationToken).ConfigureAwait(false);
        return ActionOutcome.Success(output: new JsonObject { ["throttle"] = name, ["key"] = key, ["outcome"] = lifted ? "lifted" : "not_blocked" });
    }

    /// <summary>The key to act on: <c>key</c> if given, else the one the forward call recorded, else the call's target.</summary>
    private static string BlockKey(ActionCall call, JsonObject? previous)
    {
        var key = call.Parameters["key"] is JsonValue value && value.TryGetValue<string>(out var given) && given.Length > 0 ? given
            : previous?["key"]?.GetValue<string>() ?? call.Target;
        return ThrottleManualBlock.CheckKey(key) is { } problem ? throw new ArgumentException($"{call.Action}: key '{key}' {problem}") : key;
    }

    private async Task<ActionOutcome> HaltAsync(ActionCall call, ChangeContext context, CancellationToken cancellationToken)
    {
        var name = Text(call, "mass_action");
        try
        {
            var halted = await massActions.HaltAsync(name, Caller(call), context, cancellationToken).ConfigureAwait(false);
            return ActionOutcome.Success(output: new JsonObject { ["mass_action"] = halted.Name, ["id"] = halted.Id });
        }
        catch (ProblemException e) when (e.Kind == ProblemKind.Conflict)
        {
            // Already halted (or finished): the action's purpose holds.
            return ActionOutcome.Success(output: new JsonObject { ["mass_action"] = name, ["note"] = e.Message });
        }
    }

    private static string StateName(FlagState state) => FlagNames.States.First(p => p.Value == state).Key;

    private static string Text(ActionCall call, string parameter) =>
        call.Parameters[parameter] is JsonValue value && value.TryGetValue<string>(out var text) && text.Length > 0
            ? text
            : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{call.Action} needs '{parameter}'"));
}
