using System.Text.Json.Nodes;
using Bulwark.Problems;
using Bulwark.Response;
using Bulwark.Server.Hosting;
using Bulwark.Server.Http;

namespace Bulwark.Server.Response;

/// <summary>
/// <c>evidence.snapshot</c> (with: <c>note</c>, optional): freezes the run's incident into one write-once evidence record
/// (<see cref="EvidenceService"/>), as <c>system:playbook/&lt;name&gt;</c>. A repeated call (the same idempotency key,
/// as after a crash) returns the record the first call made, never a second one. Output:
/// <c>{ evidence_id, sha256, events, detections }</c>.
/// </summary>
internal sealed class EvidenceActions(EvidenceService evidence) : IActionHandler
{
    /// <summary>The longest note kept.</summary>
    public const int MaxNoteLength = 4000;

    public IReadOnlyCollection<string> Actions { get; } = ["evidence.snapshot"];

    public async Task<ActionOutcome> ExecuteAsync(ActionCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        var note = call.Parameters["note"] switch
        {
            null => null,
            JsonValue value when value.TryGetValue<string>(out var text) => text.Length == 0 ? null : text[..Math.Min(text.Length, MaxNoteLength)],
            _ => string.Empty,
        };
        if (note is { Length: 0 })
        {
            return ActionOutcome.Failed(RetryOn.None, "evidence.snapshot: 'note' must be text");
        }

        var context = new ChangeContext("system:playbook/" + call.Playbook, call.CorrelationId, $"run {call.RunId}, step {call.StepId}, incident {call.Incident.Id}");
        try
        {
            var record = await evidence.SnapshotAsync(call.Incident.Id, call.IdempotencyKey, note, call.RunId, call.Playbook, context, cancellationToken).ConfigureAwait(false);
            return ActionOutcome.Success(output: new JsonObject
            {
                ["evidence_id"] = record.Id,
                ["sha256"] = record.Sha256,
                ["events"] = record.Events,
                ["detections"] = record.Detections,
            });
        }
        catch (ProblemException e)
        {
            // No such incident, or no record of its creation: no retry can fix these.
            return ActionOutcome.Failed(RetryOn.None, e.Message);
        }
    }

    public JsonObject Describe(ActionCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return new JsonObject
        {
            ["action"] = call.Action,
            ["incident"] = call.Incident.Id,
            ["parameters"] = call.Parameters.DeepClone(),
            ["actor"] = "system:playbook/" + call.Playbook,
        };
    }
}
