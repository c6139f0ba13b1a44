using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Identity;

namespace Bulwark.Response;

/// <summary>Where an approval is. Wire values are the snake-case names; the numbers are pinned.</summary>
public enum ApprovalStatus
{
    /// <summary>Asked, not answered yet.</summary>
    Pending = 1,

    /// <summary>Expired once unanswered and was asked again of the escalation roles; still answerable.</summary>
    Escalated = 2,

    /// <summary>A person approved it: the run (or step) goes on.</summary>
    Approved = 3,

    /// <summary>A person denied it: the run (or step) does not run.</summary>
    Denied = 4,

    /// <summary>Nobody answered in time (after the escalation, if any): denied, and recorded as expired.</summary>
    Expired = 5,

    /// <summary>The run no longer needs it (it was rolled back before anyone answered).</summary>
    Cancelled = 6,
}

/// <summary>
/// A question a run asks people: approve or deny a whole run (its incident is below the playbook's auto threshold) or
/// one step (its own <c>requires_approval</c>, or an irreversible step below the irreversible threshold). It is
/// answered once, by someone holding one of its roles (an admin always may). Expiry is explicit: at
/// <see cref="ExpiresAt"/> an unanswered question is either denied as <see cref="ApprovalStatus.Expired"/> or, once,
/// escalated to other roles with a new TTL of the same length; both are recorded, never silent.
/// </summary>
public sealed record Approval
{
    /// <summary>The approval's id (<c>apr_…</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The run that asks.</summary>
    public required string RunId { get; init; }

    /// <summary>The step it is about, or <see langword="null"/> for the whole run.</summary>
    public string? StepId { get; init; }

    /// <summary>The run's playbook.</summary>
    public required string Playbook { get; init; }

    /// <summary>The run's incident.</summary>
    public required string IncidentId { get; init; }

    /// <summary>What is asked, for people.</summary>
    public required string Question { get; init; }

    /// <summary>What the playbook asked for: who answers, for how long, and what happens at expiry.</summary>
    public required ApprovalRequirement Requirement { get; init; }

    /// <summary>Where it is.</summary>
    public required ApprovalStatus Status { get; init; }

    /// <summary>When an unanswered question expires (or escalates).</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>When it was asked.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>When it was escalated, if it was.</summary>
    public DateTimeOffset? EscalatedAt { get; init; }

    /// <summary>Who answered (an identity's name), or <c>system:approvals</c> for an expiry.</summary>
    public string? AnsweredBy { get; init; }

    /// <summary>When it was answered, expired or cancelled.</summary>
    public DateTimeOffset? AnsweredAt { get; init; }

    /// <summary>The responder's note, or why it expired or was cancelled.</summary>
    public string? Note { get; init; }

    /// <summary>Whether it can still be answered.</summary>
    public bool Open => Status is ApprovalStatus.Pending or ApprovalStatus.Escalated;

    /// <summary>The roles that may answer now: the requirement's, or after an escalation its <c>escalate_to</c> (an admin always may).</summary>
    public IReadOnlyList<Role> Roles => Status == ApprovalStatus.Escalated ? Requirement.EscalateTo : Requirement.Roles;

    /// <summary>Asks a question.</summary>
    /// <param name="id">The approval's id.</param>
    /// <param name="run">The run that asks.</param>
    /// <param name="stepId">The step, or <see langword="null"/> for the whole run.</param>
    /// <param name="requirement">Who answers, for how long, and what happens at expiry.</param>
    /// <param name="question">What is asked, for people.</param>
    /// <param name="now">The wall time.</param>
    /// <returns>The pending approval.</returns>
    public static Approval Ask(string id, RunState run, string? stepId, ApprovalRequirement requirement, string question, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(requirement);
        return new Approval
        {
            Id = id,
            RunId = run.Id,
            StepId = stepId,
            Playbook = run.Playbook,
            IncidentId = run.IncidentId,
            Question = question,
            Requirement = requirement,
            Status = ApprovalStatus.Pending,
            ExpiresAt = now + requirement.Ttl,
            CreatedAt = now,
            UpdatedAt = now,
        };
    }

    /// <summary>Whether someone with these roles may answer now.</summary>
    /// <param name="roles">The caller's roles.</param>
    /// <returns><see langword="true"/> for an admin, or a holder of one of <see cref="Roles"/>.</returns>
    public bool MayAnswer(IReadOnlyCollection<Role> roles)
    {
        ArgumentNullException.ThrowIfNull(roles);
        return roles.Contains(Role.Admin) || Roles.Any(roles.Contains);
    }

    /// <summary>Records an answer.</summary>
    /// <param name="approve">Approve, or deny.</param>
    /// <param name="by">Who answered.</param>
    /// <param name="note">Their note.</param>
    /// <param name="now">The wall time.</param>
    /// <returns>The answered approval.</returns>
    /// <exception cref="InvalidOperationException">It is no longer open.</exception>
    public Approval Answer(bool approve, string by, string? note, DateTimeOffset now)
    {
        EnsureOpen();
        return this with { Status = approve ? ApprovalStatus.Approved : ApprovalStatus.Denied, AnsweredBy = by, AnsweredAt = now, Note = note, UpdatedAt = now };
    }

    /// <summary>
    /// What happens when it is due unanswered: escalated once (to <see cref="ApprovalRequirement.EscalateTo"/>, with a
    /// new TTL of the same length) when the requirement says so, else expired.
    /// </summary>
    /// <param name="now">The wall time (at or after <see cref="ExpiresAt"/>).</param>
    /// <returns>The escalated or expired approval.</returns>
    /// <exception cref="InvalidOperationException">It is no longer open, or not due yet.</exception>
    public Approval Expire(DateTimeOffset now)
    {
        EnsureOpen();
        if (now < ExpiresAt)
        {
            throw new InvalidOperationException($"Approval {Id} is not due until {DetectionRecord.Time(ExpiresAt)}.");
        }

        return Status == ApprovalStatus.Pending && Requirement.OnExpiry == ApprovalExpiry.Escalate
            ? this with { Status = ApprovalStatus.Escalated, EscalatedAt = now, ExpiresAt = now + Requirement.Ttl, UpdatedAt = now }
            : this with
            {
                Status = ApprovalStatus.Expired,
                AnsweredBy = SystemActor,
                AnsweredAt = now,
                Note = $"nobody answered by {DetectionRecord.Time(ExpiresAt)}{(EscalatedAt is null ? string.Empty : " (after the escalation)")}",
                UpdatedAt = now,
            };
    }

    /// <summary>Cancels an open question the run no longer needs.</summary>
    /// <param name="reason">Why.</param>
    /// <param name="now">The wall time.</param>
    /// <returns>The cancelled approval.</returns>
    public Approval Cancel(string reason, DateTimeOffset now)
    {
        EnsureOpen();
        return this with { Status = ApprovalStatus.Cancelled, AnsweredBy = SystemActor, AnsweredAt = now, Note = reason, UpdatedAt = now };
    }

    /// <summary>The actor recorded for expiries and cancellations.</summary>
    public const string SystemActor = "system:approvals";

    /// <summary>
    /// Why a run or step that waited for this approval is not going to run, for people; <see langword="null"/> while
    /// it is open or once approved.
    /// </summary>
    public string? Refusal => Status switch
    {
        ApprovalStatus.Denied => $"denied by {AnsweredBy}" + (string.IsNullOrEmpty(Note) ? string.Empty : ": " + Note),
        ApprovalStatus.Expired => "approval expired: " + Note,
        ApprovalStatus.Cancelled => "approval cancelled: " + Note,
        _ => null,
    };

    /// <summary>The approval as the control store keeps it.</summary>
    /// <returns>The stored approval.</returns>
    public StoredApproval ToStored() => new()
    {
        Id = Id,
        RunId = RunId,
        StepId = StepId,
        Status = ResponseNames.Name(ResponseNames.ApprovalStatuses, Status),
        ExpiresAt = ExpiresAt,
        CreatedAt = CreatedAt,
        UpdatedAt = UpdatedAt,
        Document = ToDocument(),
    };

    /// <summary>The approval as JSON (the API's shape).</summary>
    /// <returns>A new document.</returns>
    public JsonObject ToDocument() => new()
    {
        ["id"] = Id,
        ["run_id"] = RunId,
        ["step_id"] = StepId,
        ["playbook"] = Playbook,
        ["incident_id"] = IncidentId,
        ["question"] = Question,
        ["status"] = ResponseNames.Name(ResponseNames.ApprovalStatuses, Status),
        ["roles"] = new JsonArray([.. Roles.Select(r => (JsonNode)Identity.Roles.Name(r))]),
        ["requirement"] = new JsonObject
        {
            ["roles"] = new JsonArray([.. Requirement.Roles.Select(r => (JsonNode)Identity.Roles.Name(r))]),
            ["ttl_seconds"] = (long)Requirement.Ttl.TotalSeconds,
            ["on_expiry"] = ResponseNames.Name(ResponseNames.Expiries, Requirement.OnExpiry),
            ["escalate_to"] = new JsonArray([.. Requirement.EscalateTo.Select(r => (JsonNode)Identity.Roles.Name(r))]),
        },
        ["expires_at"] = DetectionRecord.Time(ExpiresAt),
        ["escalated_at"] = EscalatedAt is { } escalated ? DetectionRecord.Time(escalated) : null,
        ["answered_by"] = AnsweredBy,
        ["answered_at"] = AnsweredAt is { } answered ? DetectionRecord.Time(answered) : null,
        ["note"] = Note,
        ["created_at"] = DetectionRecord.Time(CreatedAt),
        ["updated_at"] = DetectionRecord.Time(UpdatedAt),
    };

    /// <summary>Reads a stored approval.</summary>
    /// <param name="stored">The stored approval.</param>
    /// <returns>The approval.</returns>
    /// <exception cref="InvalidDataException">A field is missing or has the wrong shape.</exception>
    public static Approval Read(StoredApproval stored)
    {
        ArgumentNullException.ThrowIfNull(stored);
        var document = stored.Document;
        try
        {
            var requirement = document["requirement"]!.AsObject();
            return new Approval
            {
                Id = stored.Id,
                RunId = stored.RunId,
                StepId = stored.StepId,
                Playbook = document["playbook"]!.GetValue<string>(),
                IncidentId = document["incident_id"]!.GetValue<string>(),
                Question = document["question"]!.GetValue<string>(),
                Requirement = new ApprovalRequirement(
                    ReadRoles(requirement["roles"]),
                    TimeSpan.FromSeconds(requirement["ttl_seconds"]!.GetValue<long>()),
                    ResponseNames.Expiries[requirement["on_expiry"]!.GetValue<string>()],
                    ReadRoles(requirement["escalate_to"])),
                Status = ResponseNames.ApprovalStatuses[stored.Status],
                ExpiresAt = stored.ExpiresAt,
                CreatedAt = stored.CreatedAt,
                UpdatedAt = stored.UpdatedAt,
                EscalatedAt = document["escalated_at"] is { } escalated ? DetectionRecord.ReadTime(escalated) : null,
                AnsweredBy = document["answered_by"]?.GetValue<string>(),
                AnsweredAt = document["answered_at"] is { } answered ? DetectionRecord.ReadTime(answered) : null,
                Note = document["note"]?.GetValue<string>(),
            };
        }
        catch (Exception error) when (error is NullReferenceException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new InvalidDataException($"Not a stored approval: {error.Message}", error);
        }
    }

    private static Role[] ReadRoles(JsonNode? node) =>
        [.. (node?.AsArray() ?? []).Select(r => Identity.Roles.TryParse(r!.GetValue<string>(), out var role) ? role : throw new FormatException($"'{r}' is not a role"))];

    private void EnsureOpen()
    {
        if (!Open)
        {
            throw new InvalidOperationException($"Approval {Id} is {ResponseNames.Name(ResponseNames.ApprovalStatuses, Status)}: it can no longer change.");
        }
    }
}
