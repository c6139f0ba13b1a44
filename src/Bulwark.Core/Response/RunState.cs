using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;

namespace Bulwark.Response;

/// <summary>Where a playbook run is. Wire values are the snake-case names; the numbers are pinned.</summary>
public enum RunStatus
{
    /// <summary>The incident is below the playbook's auto threshold: nothing runs until a person approves.</summary>
    WaitingApproval = 1,

    /// <summary>Steps are running or ready (including steps waiting for their own approval).</summary>
    Running = 2,

    /// <summary>Every step succeeded or was skipped by its <c>run_if</c>.</summary>
    Succeeded = 3,

    /// <summary>A step failed after its retries; its dependents were skipped.</summary>
    Failed = 4,

    /// <summary>A person denied the run or a step (or the question expired unanswered), and nothing failed.</summary>
    Denied = 5,

    /// <summary>A rollback ran the compensations of the steps that had succeeded, in reverse order.</summary>
    RolledBack = 6,

    /// <summary>A rollback was asked for: what has not run is skipped, and the compensations run in reverse order.</summary>
    RollingBack = 7,

    /// <summary>A rollback ran, but a compensation failed after its retries (see the step's reason).</summary>
    RollbackFailed = 8,
}

/// <summary>Where a step (or one target of a step) is. Wire values are the snake-case names; the numbers are pinned.</summary>
public enum StepStatus
{
    /// <summary>Not started: its dependencies have not all succeeded yet, or the run waits for approval.</summary>
    Pending = 1,

    /// <summary>Waiting for a person (its own <c>requires_approval</c>, or an irreversible step below the irreversible threshold).</summary>
    WaitingApproval = 2,

    /// <summary>Calls are in flight or waiting to be retried.</summary>
    Running = 3,

    /// <summary>Every call took effect.</summary>
    Succeeded = 4,

    /// <summary>A call failed and its retries are spent (or its failure cannot be retried).</summary>
    Failed = 5,

    /// <summary>Not run: its <c>run_if</c> was false, or a dependency did not succeed (see the reason).</summary>
    Skipped = 6,

    /// <summary>Not run: a person denied it, or its approval expired unanswered.</summary>
    Denied = 7,

    /// <summary>Succeeded, then undone by a rollback.</summary>
    Compensated = 8,
}

/// <summary>
/// The state of one playbook run: what the server persists (as <see cref="ToDocument"/>) before and after every
/// external call, so that a run resumes where it stopped after a restart.
/// </summary>
public sealed record RunState
{
    /// <summary>The run's id (<c>run_…</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The playbook it runs.</summary>
    public required string Playbook { get; init; }

    /// <summary>The incident it answers.</summary>
    public required string IncidentId { get; init; }

    /// <summary>The incident's correlation id, sent with every call as <c>X-Correlation-ID</c>.</summary>
    public required string CorrelationId { get; init; }

    /// <summary>The incident's confidence when the run started: the gates compare it with the thresholds.</summary>
    public required double Confidence { get; init; }

    /// <summary>Where the run is.</summary>
    public required RunStatus Status { get; init; }

    /// <summary>Whether it records what it would call and calls nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>Why it is in its status, for people (who denied it, which step failed).</summary>
    public string? Reason { get; init; }

    /// <summary>The approval the run waits for, while <see cref="RunStatus.WaitingApproval"/>.</summary>
    public string? ApprovalId { get; init; }

    /// <summary>The steps, in the playbook's order.</summary>
    public required IReadOnlyList<StepState> Steps { get; init; }

    /// <summary>
    /// The accounts the run acts on (its <c>for_each: accounts</c> steps): the incident's when the run started, or for
    /// a follow-up run those that joined the incident since. <see langword="null"/> (a run stored before scopes): the
    /// incident's, as they are when each step starts.
    /// </summary>
    public IReadOnlyList<string>? Accounts { get; init; }

    /// <summary>The IPs the run acts on (its <c>for_each: ips</c> steps), as <see cref="Accounts"/>.</summary>
    public IReadOnlyList<string>? Ips { get; init; }

    /// <summary>The rollback asked for, once someone asked.</summary>
    public RollbackRequest? Rollback { get; init; }

    /// <summary>When the run was created (wall time).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed (wall time).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Whether the run is over (nothing more will run; a rollback may still follow).</summary>
    public bool Finished => !IsActive(Status);

    /// <summary>Whether a run in this status is still to be worked on.</summary>
    /// <param name="status">The status.</param>
    /// <returns><see langword="true"/> while it waits for approval, runs or rolls back.</returns>
    public static bool IsActive(RunStatus status) => status is RunStatus.WaitingApproval or RunStatus.Running or RunStatus.RollingBack;

    /// <summary>
    /// A new run of a playbook for an incident: every step pending, waiting for approval when the incident is below the
    /// auto threshold (a dry run never waits: its reason says that a real run would), acting on <paramref name="accounts"/> and <paramref name="ips"/> (by default all the incident's).
    /// </summary>
    /// <param name="id">The run's id.</param>
    /// <param name="playbook">The playbook.</param>
    /// <param name="incident">The incident.</param>
    /// <param name="correlationId">The incident's correlation id.</param>
    /// <param name="now">The wall time.</param>
    /// <param name="dryRun">Whether this run is a dry run (a dry-run playbook always is).</param>
    /// <param name="accounts">The accounts it acts on; by default the incident's.</param>
    /// <param name="ips">The IPs it acts on; by default the incident's.</param>
    /// <returns>The run.</returns>
    public static RunState Start(
        string id, PlaybookDefinition playbook, IncidentRecord incident, string correlationId, DateTimeOffset now, bool dryRun = false, IReadOnlyList<string>? accounts = null, IReadOnlyList<string>? ips = null)
    {
        ArgumentNullException.ThrowIfNull(playbook);
        ArgumentNullException.ThrowIfNull(incident);
        var below = incident.Confidence < playbook.AutoThreshold;
        var dry = dryRun || playbook.DryRun;
        var waits = below && !dry;
        return new RunState
        {
            Id = id,
            Playbook = playbook.Name,
            IncidentId = incident.Id,
            CorrelationId = correlationId,
            Confidence = incident.Confidence,
            Status = waits ? RunStatus.WaitingApproval : RunStatus.Running,
            DryRun = dry,
            Reason = below
                ? (dry ? "dry run; a real run would wait for approval: " : string.Empty) + $"confidence {Math.Round(incident.Confidence, 4)} is below the auto threshold {playbook.AutoThreshold}"
                : null,
            Steps = [.. playbook.AllSteps.Select(s => new StepState { Id = s.Id, Status = StepStatus.Pending })],
            Accounts = accounts ?? incident.Accounts,
            Ips = ips ?? incident.Ips,
            CreatedAt = now,
            UpdatedAt = now,
        };
    }

    /// <summary>The state of a step.</summary>
    /// <param name="stepId">The step's id.</param>
    /// <returns>The state, or <see langword="null"/> when the run has no such step.</returns>
    public StepState? Step(string stepId) => Steps.FirstOrDefault(s => s.Id == stepId);

    /// <summary>A copy with one step's state replaced.</summary>
    /// <param name="step">The new state (matched by id).</param>
    /// <returns>The new run state.</returns>
    /// <exception cref="ArgumentException">The run has no step with that id.</exception>
    public RunState WithStep(StepState step)
    {
        ArgumentNullException.ThrowIfNull(step);
        var index = Steps.Select((s, i) => (s, i)).FirstOrDefault(p => p.s.Id == step.Id, (null!, -1)).Item2;
        if (index < 0)
        {
            throw new ArgumentException($"The run has no step '{step.Id}'.", nameof(step));
        }

        return this with { Steps = [.. Steps.Take(index), step, .. Steps.Skip(index + 1)] };
    }

    /// <summary>The run as JSON (the API's and the store's shape).</summary>
    /// <returns>A new document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["id"] = Id,
        ["playbook"] = Playbook,
        ["incident_id"] = IncidentId,
        ["correlation_id"] = CorrelationId,
        ["confidence"] = Confidence,
        ["status"] = ResponseNames.Name(ResponseNames.RunStatuses, Status),
        ["dry_run"] = DryRun,
        ["reason"] = Reason,
        ["approval_id"] = ApprovalId,
        ["steps"] = new JsonArray([.. Steps.Select(s => (JsonNode)s.ToDocument())]),
        ["accounts"] = Accounts is null ? null : new JsonArray([.. Accounts.Select(a => (JsonNode)a)]),
        ["ips"] = Ips is null ? null : new JsonArray([.. Ips.Select(a => (JsonNode)a)]),
        ["rollback"] = Rollback?.ToDocument(),
        ["created_at"] = DetectionRecord.Time(CreatedAt),
        ["updated_at"] = DetectionRecord.Time(UpdatedAt),
    };

    /// <summary>Reads a document written by <see cref="ToDocument"/>.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The run.</returns>
    /// <exception cref="InvalidDataException">A field is missing or has the wrong shape.</exception>
    public static RunState Read(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        try
        {
            return new RunState
            {
                Id = document["id"]!.GetValue<string>(),
                Playbook = document["playbook"]!.GetValue<string>(),
                IncidentId = document["incident_id"]!.GetValue<string>(),
                CorrelationId = document["correlation_id"]!.GetValue<string>(),
                Confidence = document["confidence"]!.GetValue<double>(),
                Status = ResponseNames.RunStatuses[document["status"]!.GetValue<string>()],
                DryRun = document["dry_run"]?.GetValue<bool>() ?? false,
                Reason = document["reason"]?.GetValue<string>(),
                ApprovalId = document["approval_id"]?.GetValue<string>(),
                Steps = [.. document["steps"]!.AsArray().Select(s => StepState.Read(s!.AsObject()))],
                Accounts = document["accounts"] is JsonArray accounts ? [.. accounts.Select(a => a!.GetValue<string>())] : null,
                Ips = document["ips"] is JsonArray ips ? [.. ips.Select(a => a!.GetValue<string>())] : null,
                Rollback = document["rollback"] is JsonObject rollback ? RollbackRequest.Read(rollback) : null,
                CreatedAt = DetectionRecord.ReadTime(document["created_at"]),
                UpdatedAt = DetectionRecord.ReadTime(document["updated_at"]),
            };
        }
        catch (Exception error) when (error is NullReferenceException or InvalidOperationException or FormatException or ArgumentException or KeyNotFoundException)
        {
            throw new InvalidDataException($"Not a stored run: {error.Message}", error);
        }
    }
}

/// <summary>The state of one step of a run.</summary>
public sealed record StepState
{
    /// <summary>The step's id.</summary>
    public required string Id { get; init; }

    /// <summary>Where it is.</summary>
    public required StepStatus Status { get; init; }

    /// <summary>Why it is in its status, for people (why it was skipped, who denied it, the last error).</summary>
    public string? Reason { get; init; }

    /// <summary>The approval it waits for, while <see cref="StepStatus.WaitingApproval"/>.</summary>
    public string? ApprovalId { get; init; }

    /// <summary>The calls, one per target, once the step started.</summary>
    public IReadOnlyList<TargetState> Targets { get; init; } = [];

    /// <summary>The compensation calls a rollback made, one per target the step acted on (or may have: its outcome was unknown).</summary>
    public IReadOnlyList<TargetState> Compensations { get; init; } = [];

    /// <summary>What the step leaves for later steps (<c>steps.&lt;id&gt;.output</c>).</summary>
    public JsonObject? Output { get; init; }

    /// <summary>When it started (wall time).</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When it finished (wall time).</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>A copy with one call (forward or compensation, matched by target) replaced.</summary>
    /// <param name="call">The new state of the call.</param>
    /// <param name="compensation">Whether it is a compensation call.</param>
    /// <returns>The new step state.</returns>
    public StepState WithCall(TargetState call, bool compensation)
    {
        ArgumentNullException.ThrowIfNull(call);
        IReadOnlyList<TargetState> Replace(IReadOnlyList<TargetState> calls) => [.. calls.Select(t => t.Target == call.Target ? call : t)];
        return compensation ? this with { Compensations = Replace(Compensations) } : this with { Targets = Replace(Targets) };
    }

    /// <summary>The calls of one lane: the forward calls, or the compensations.</summary>
    /// <param name="compensation">Whether the compensations.</param>
    /// <returns>The calls.</returns>
    public IReadOnlyList<TargetState> Calls(bool compensation) => compensation ? Compensations : Targets;

    /// <summary>The step as JSON.</summary>
    /// <returns>A new document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["id"] = Id,
        ["status"] = ResponseNames.Name(ResponseNames.StepStatuses, Status),
        ["reason"] = Reason,
        ["approval_id"] = ApprovalId,
        ["targets"] = new JsonArray([.. Targets.Select(t => (JsonNode)t.ToDocument())]),
        ["compensations"] = Compensations.Count == 0 ? null : new JsonArray([.. Compensations.Select(t => (JsonNode)t.ToDocument())]),
        ["output"] = Output?.DeepClone(),
        ["started_at"] = StartedAt is { } started ? DetectionRecord.Time(started) : null,
        ["finished_at"] = FinishedAt is { } finished ? DetectionRecord.Time(finished) : null,
    };

    /// <summary>Reads a document written by <see cref="ToDocument"/>.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The step.</returns>
    public static StepState Read(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return new StepState
        {
            Id = document["id"]!.GetValue<string>(),
            Status = ResponseNames.StepStatuses[document["status"]!.GetValue<string>()],
            Reason = document["reason"]?.GetValue<string>(),
            ApprovalId = document["approval_id"]?.GetValue<string>(),
            Targets = document["targets"] is JsonArray targets ? [.. targets.Select(t => TargetState.Read(t!.AsObject()))] : [],
            Compensations = document["compensations"] is JsonArray compensations ? [.. compensations.Select(t => TargetState.Read(t!.AsObject()))] : [],
            Output = document["output"]?.DeepClone().AsObject(),
            StartedAt = document["started_at"] is { } started ? DetectionRecord.ReadTime(started) : null,
            FinishedAt = document["finished_at"] is { } finished ? DetectionRecord.ReadTime(finished) : null,
        };
    }
}

/// <summary>One call of a step: its target and how its attempts went.</summary>
public sealed record TargetState
{
    /// <summary>The account id, the IP, or the incident id for a step with one call.</summary>
    public required string Target { get; init; }

    /// <summary><see cref="StepStatus.Pending"/>, <see cref="StepStatus.Running"/> (an attempt is in flight or its outcome is unknown), <see cref="StepStatus.Succeeded"/>, <see cref="StepStatus.Failed"/> or <see cref="StepStatus.Compensated"/>.</summary>
    public required StepStatus Status { get; init; }

    /// <summary>The <c>Idempotency-Key</c> of every attempt (see <see cref="RunPlanner.IdempotencyKey"/>).</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>Attempts made so far.</summary>
    public int Attempts { get; init; }

    /// <summary>When the next attempt is due (wall time), while a retry waits.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }

    /// <summary>The outside service's status on the last attempt, if it answered.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>Why the last attempt failed, for people; never a secret.</summary>
    public string? Error { get; init; }

    /// <summary>What the call left (a ticket key; in a dry run, the request it would have made).</summary>
    public JsonObject? Output { get; init; }

    /// <summary>The call as JSON.</summary>
    /// <returns>A new document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["target"] = Target,
        ["status"] = ResponseNames.Name(ResponseNames.StepStatuses, Status),
        ["idempotency_key"] = IdempotencyKey,
        ["attempts"] = Attempts,
        ["next_attempt_at"] = NextAttemptAt is { } next ? DetectionRecord.Time(next) : null,
        ["http_status"] = HttpStatus,
        ["error"] = Error,
        ["output"] = Output?.DeepClone(),
    };

    /// <summary>Reads a document written by <see cref="ToDocument"/>.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The call.</returns>
    public static TargetState Read(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return new TargetState
        {
            Target = document["target"]!.GetValue<string>(),
            Status = ResponseNames.StepStatuses[document["status"]!.GetValue<string>()],
            IdempotencyKey = document["idempotency_key"]!.GetValue<string>(),
            Attempts = document["attempts"]?.GetValue<int>() ?? 0,
            NextAttemptAt = document["next_attempt_at"] is { } next ? DetectionRecord.ReadTime(next) : null,
            HttpStatus = document["http_status"]?.GetValue<int>(),
            Error = document["error"]?.GetValue<string>(),
            Output = document["output"]?.DeepClone().AsObject(),
        };
    }
}

/// <summary>Who asked for a run's rollback, when, and why.</summary>
/// <param name="RequestedBy">The identity that asked (or <c>system:…</c>).</param>
/// <param name="RequestedAt">When (wall time).</param>
/// <param name="Reason">Why, for people.</param>
public sealed record RollbackRequest(string RequestedBy, DateTimeOffset RequestedAt, string? Reason)
{
    /// <summary>The request as JSON.</summary>
    /// <returns>A new document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["requested_by"] = RequestedBy,
        ["requested_at"] = DetectionRecord.Time(RequestedAt),
        ["reason"] = Reason,
    };

    /// <summary>Reads a document written by <see cref="ToDocument"/>.</summary>
    /// <param name="document">The document.</param>
    /// <returns>The request.</returns>
    public static RollbackRequest Read(JsonObject document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return new RollbackRequest(
            document["requested_by"]!.GetValue<string>(),
            DetectionRecord.ReadTime(document["requested_at"]),
            document["reason"]?.GetValue<string>());
    }
}
