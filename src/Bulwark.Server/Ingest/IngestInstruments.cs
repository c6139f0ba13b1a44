using System.Diagnostics.Metrics;
using Bulwark.Ingest;
using Bulwark.Server.Metrics;

namespace Bulwark.Server.Ingest;

/// <summary>Ingest metrics. Labels are bounded: source names are configured ones (unknown sources are answered 404 first).</summary>
internal sealed class IngestInstruments(ServerInstruments instruments)
{
    private readonly Counter<long> _deliveries = instruments.Meter.CreateCounter<long>(
        "bulwark.webhook.deliveries", "{delivery}", "Webhook deliveries answered, by source and outcome (accepted, duplicate, signature, timestamp, media_type, too_large, throttled)");

    private readonly Counter<long> _bytes = instruments.Meter.CreateCounter<long>(
        "bulwark.webhook.bytes", "By", "Bytes of webhook bodies stored, by source");

    private readonly Counter<long> _handshakes = instruments.Meter.CreateCounter<long>(
        "bulwark.webhook.handshakes", "{handshake}", "Webhook handshakes answered, by source and status");

    private readonly Counter<long> _normalized = instruments.Meter.CreateCounter<long>(
        "bulwark.ingest.normalized", "{snapshot}", "Raw snapshots normalized, by source and outcome (ok, quarantined)");

    private readonly Counter<long> _events = instruments.Meter.CreateCounter<long>(
        "bulwark.ingest.events", "{event}", "Events appended to the event log, by path (webhook, api) and outcome (appended, duplicate, rejected)");

    private readonly Counter<long> _polls = instruments.Meter.CreateCounter<long>(
        "bulwark.ingest.polls", "{request}", "Requests of polled sources, by source and outcome (ok, empty, error, throttled)");

    public void Accepted(string source, DeliveryStatus status, int bytes)
    {
        _deliveries.Add(1, new("source", source), new("outcome", status == DeliveryStatus.Accepted ? "accepted" : "duplicate"));
        if (status == DeliveryStatus.Accepted)
        {
            _bytes.Add(bytes, new KeyValuePair<string, object?>("source", source));
        }
    }

    public void Refused(string source, string outcome) => _deliveries.Add(1, new("source", source), new("outcome", outcome));

    public void Handshake(string source, int status) => _handshakes.Add(1, new("source", source), new("status", status));

    public void Normalized(string source, bool quarantined) => _normalized.Add(1, new("source", source), new("outcome", quarantined ? "quarantined" : "ok"));

    public void Polled(string source, PollOutcome outcome) => _polls.Add(1, new("source", source), new("outcome", outcome switch
    {
        PollOutcome.Ok => "ok",
        PollOutcome.Empty => "empty",
        PollOutcome.Throttled => "throttled",
        _ => "error",
    }));

    public void Events(string path, int appended, int duplicates, int rejected)
    {
        _events.Add(appended, new("path", path), new("outcome", "appended"));
        _events.Add(duplicates, new("path", path), new("outcome", "duplicate"));
        _events.Add(rejected, new("path", path), new("outcome", "rejected"));
    }
}

/// <summary>How one request of a polled source ended, for <c>bulwark.ingest.polls</c>.</summary>
internal enum PollOutcome
{
    /// <summary>A page with items, stored (or a duplicate of one stored).</summary>
    Ok = 1,

    /// <summary>An empty page: the source is caught up.</summary>
    Empty = 2,

    /// <summary>A network error, a timeout, a refused or unusable answer.</summary>
    Error = 3,

    /// <summary>429: the source asked to wait.</summary>
    Throttled = 4,
}
