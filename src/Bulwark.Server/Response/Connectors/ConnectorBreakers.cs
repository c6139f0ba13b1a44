using System.Collections.Concurrent;
using Bulwark.Response;

namespace Bulwark.Server.Response.Connectors;

/// <summary>Where a connector's circuit breaker is.</summary>
internal enum BreakerState
{
    /// <summary>Calls go through; consecutive failures are counted.</summary>
    Closed = 1,

    /// <summary>Calls fail at once until the open period ends.</summary>
    Open = 2,

    /// <summary>The open period ended: one trial call goes through; the others still fail at once.</summary>
    HalfOpen = 3,
}

/// <summary>
/// One circuit breaker per connector, by name, on the server's clock. The thresholds are read from the connector's
/// definition at each call, so a changed manifest applies at once.
/// </summary>
internal sealed class ConnectorBreakers(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, ConnectorBreaker> _breakers = new(StringComparer.Ordinal);

    public ConnectorBreaker For(string connector) => _breakers.GetOrAdd(connector, _ => new ConnectorBreaker(time));

    public BreakerState State(string connector) => _breakers.TryGetValue(connector, out var breaker) ? breaker.State : BreakerState.Closed;
}

/// <summary>
/// Counts consecutive failed calls (timeouts, connection failures, 5xx, 429). At
/// <see cref="ConnectorDefinition.BreakerFailures"/> it opens for <see cref="ConnectorDefinition.BreakerOpenFor"/>;
/// then exactly one trial call goes through: its success closes the breaker, its failure opens it again. An answer
/// that proves the service up (2xx, 4xx other than 408 and 429) resets the count. Results of calls that started
/// before the breaker opened do not close it.
/// </summary>
internal sealed class ConnectorBreaker(TimeProvider time)
{
    private readonly Lock _gate = new();
    private int _failures;
    private DateTimeOffset? _openUntil;
    private bool _trialInFlight;

    public BreakerState State
    {
        get
        {
            lock (_gate)
            {
                return _openUntil is not { } until ? BreakerState.Closed
                    : _trialInFlight || time.GetUtcNow() >= until ? BreakerState.HalfOpen
                    : BreakerState.Open;
            }
        }
    }

    /// <summary>Asks to make a call.</summary>
    /// <param name="connector">The connector's current definition.</param>
    /// <param name="ticket">What to hand back to <see cref="Complete"/>.</param>
    /// <param name="refusal">When refused: why, for people.</param>
    /// <param name="retryAfter">When refused: how long until a trial call may go through.</param>
    /// <returns>Whether the call may go out.</returns>
    public bool TryEnter(ConnectorDefinition connector, out BreakerTicket ticket, out string refusal, out TimeSpan? retryAfter)
    {
        lock (_gate)
        {
            refusal = string.Empty;
            retryAfter = null;
            if (_openUntil is not { } until)
            {
                ticket = BreakerTicket.Normal;
                return true;
            }

            var now = time.GetUtcNow();
            if (now >= until && !_trialInFlight)
            {
                _trialInFlight = true;
                ticket = BreakerTicket.Trial;
                return true;
            }

            ticket = BreakerTicket.Normal;
            retryAfter = until > now ? until - now : null;
            refusal = _trialInFlight
                ? $"circuit open for connector '{connector.Name}': a trial call is in flight"
                : $"circuit open for connector '{connector.Name}' after {_failures} consecutive failures, until {Bulwark.Audit.AuditChain.FormatTime(until)}";
            return false;
        }
    }

    /// <summary>Records how an admitted call ended.</summary>
    /// <param name="connector">The connector's current definition.</param>
    /// <param name="ticket">From <see cref="TryEnter"/>.</param>
    /// <param name="healthy">Whether the service answered sanely; <see langword="null"/> when the call was abandoned by its caller (no verdict).</param>
    public void Complete(ConnectorDefinition connector, BreakerTicket ticket, bool? healthy)
    {
        lock (_gate)
        {
            if (ticket == BreakerTicket.Trial)
            {
                _trialInFlight = false;
                switch (healthy)
                {
                    case true:
                        _failures = 0;
                        _openUntil = null;
                        break;
                    case false:
                        _failures++;
                        _openUntil = time.GetUtcNow() + connector.BreakerOpenFor;
                        break;
                }

                return;
            }

            if (_openUntil is not null || healthy is null)
            {
                return;
            }

            if (healthy.Value)
            {
                _failures = 0;
                return;
            }

            _failures++;
            if (_failures >= Math.Max(1, connector.BreakerFailures))
            {
                _openUntil = time.GetUtcNow() + connector.BreakerOpenFor;
            }
        }
    }
}

/// <summary>How a call was admitted by its breaker.</summary>
internal enum BreakerTicket
{
    /// <summary>The breaker was closed.</summary>
    Normal = 0,

    /// <summary>The one trial call of a half-open breaker.</summary>
    Trial = 1,
}
