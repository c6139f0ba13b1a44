using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Response;

namespace Bulwark.Server.Response;

/// <summary>One call of a playbook step for one target, as the run executor hands it to the action's handler.</summary>
internal sealed record ActionCall
{
    /// <summary>The run.</summary>
    public required string RunId { get; init; }

    /// <summary>The playbook.</summary>
    public required string Playbook { get; init; }

    /// <summary>The step (or <c>&lt;step&gt;.compensate</c> for a compensation).</summary>
    public required string StepId { get; init; }

    /// <summary>The action, such as <c>platform.revoke_tokens</c>.</summary>
    public required string Action { get; init; }

    /// <summary>What the call acts on: an account id, an IP, or the incident id for a step with one call.</summary>
    public required string Target { get; init; }

    /// <summary>
    /// <c>hash(run, step, target)</c> (compensations have their own): sent as <c>Idempotency-Key</c> on every attempt
    /// of this call, including the retry after a crash left its outcome unknown.
    /// </summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>The incident's correlation id, sent as <c>X-Correlation-ID</c>.</summary>
    public required string CorrelationId { get; init; }

    /// <summary>The step's parameters with every template rendered.</summary>
    public required JsonObject Parameters { get; init; }

    /// <summary>The incident as it was when the step started.</summary>
    public required IncidentRecord Incident { get; init; }

    /// <summary>The connector named by the step, for actions that call out; <see langword="null"/> for built-in actions.</summary>
    public ConnectorDefinition? Connector { get; init; }

    /// <summary>How long the call may take.</summary>
    public required TimeSpan Timeout { get; init; }

    /// <summary>The attempt, from 1.</summary>
    public int Attempt { get; init; } = 1;

    /// <summary>What earlier calls of this step for this target left (for example a created ticket's key), if anything.</summary>
    public JsonObject? Previous { get; init; }
}

/// <summary>How a call ended.</summary>
/// <param name="Succeeded">Whether the action took effect (or had already).</param>
/// <param name="Failure">For a failed call: which kind, so the retry policy can decide; <see cref="RetryOn.None"/> for a failure that no retry can fix (a 400, a 404, a missing secret).</param>
/// <param name="HttpStatus">The outside service's status, if it answered.</param>
/// <param name="RetryAfter">The service's <c>Retry-After</c>, if it sent one.</param>
/// <param name="Output">What to remember (a ticket key, the request the call made in a dry run), kept in the run.</param>
/// <param name="Error">Why it failed, for people; never a secret.</param>
internal sealed record ActionOutcome(bool Succeeded, RetryOn Failure, int? HttpStatus, TimeSpan? RetryAfter, JsonObject? Output, string? Error)
{
    public static ActionOutcome Success(int? status = null, JsonObject? output = null) => new(true, RetryOn.None, status, null, output, null);

    public static ActionOutcome Failed(RetryOn failure, string error, int? status = null, TimeSpan? retryAfter = null) => new(false, failure, status, retryAfter, null, error);
}

/// <summary>
/// Carries out one or more actions. Handlers are singletons and thread-safe. A handler that calls out sends
/// <see cref="ActionCall.IdempotencyKey"/> and <see cref="ActionCall.CorrelationId"/>, honours
/// <see cref="ActionCall.Timeout"/>, and maps the answer to an <see cref="ActionOutcome"/> (timeouts and connection
/// failures to <see cref="RetryOn.Timeout"/>, 5xx to <see cref="RetryOn.ServerError"/>, 429 to
/// <see cref="RetryOn.TooManyRequests"/> with its <c>Retry-After</c>); it never throws for an outside failure.
/// </summary>
internal interface IActionHandler
{
    /// <summary>The actions it carries out.</summary>
    IReadOnlyCollection<string> Actions { get; }

    /// <summary>Carries out one call.</summary>
    Task<ActionOutcome> ExecuteAsync(ActionCall call, CancellationToken cancellationToken);

    /// <summary>What the call would do, for a dry run: the request it would send (secrets masked), without sending it.</summary>
    JsonObject Describe(ActionCall call);
}
