using System.Text.Json.Nodes;

namespace Bulwark.Response;

/// <summary>
/// A playbook run as the control store keeps it: the columns its lists filter on, and the run's whole state as a
/// JSON document (steps, targets, attempts, outcomes), rewritten by every state change of the run.
/// </summary>
public sealed record StoredRun
{
    /// <summary>The run's id (<c>run_…</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The playbook it runs.</summary>
    public required string Playbook { get; init; }

    /// <summary>The incident it answers.</summary>
    public required string IncidentId { get; init; }

    /// <summary>The run's status, as its wire name (<c>running</c>, <c>waiting_approval</c>, <c>succeeded</c>, …).</summary>
    public required string Status { get; init; }

    /// <summary>Whether the run is still to be worked on by the executor (not finished).</summary>
    public required bool Active { get; init; }

    /// <summary>When it was created (wall time).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed (wall time).</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The run's state.</summary>
    public required JsonObject Document { get; init; }
}

/// <summary>
/// A question a run asks people: approve or deny a run below its playbook's auto threshold, or one step that requires
/// approval. Answered once; an unanswered one expires explicitly at <see cref="ExpiresAt"/>.
/// </summary>
public sealed record StoredApproval
{
    /// <summary>The approval's id (<c>apr_…</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The run that asks.</summary>
    public required string RunId { get; init; }

    /// <summary>The step it is about, or <see langword="null"/> for the whole run.</summary>
    public string? StepId { get; init; }

    /// <summary>The status: <c>pending</c>, <c>approved</c>, <c>denied</c>, <c>expired</c> or <c>escalated</c>.</summary>
    public required string Status { get; init; }

    /// <summary>When an unanswered question expires.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>When it was asked.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it last changed.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The rest: roles that may answer, the incident, what is asked, who answered and when, the note.</summary>
    public required JsonObject Document { get; init; }
}

/// <summary>A filter over runs (every part optional).</summary>
/// <param name="IncidentId">Only this incident's.</param>
/// <param name="Status">Only this status.</param>
/// <param name="Before">Only runs stored before this position (paging, newest first).</param>
/// <param name="Limit">At most this many.</param>
public sealed record RunQuery(string? IncidentId = null, string? Status = null, long? Before = null, int Limit = 100);
