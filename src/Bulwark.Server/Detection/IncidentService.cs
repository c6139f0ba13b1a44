using Bulwark.Detection.Incidents;
using Bulwark.Problems;
using Bulwark.Server.Hosting;
using Bulwark.Storage;

namespace Bulwark.Server.Detection;

/// <summary>
/// Stores detections and keeps incidents: each new detection is correlated (<see cref="IncidentCorrelator"/>) and
/// written with its incident, any incidents it merged and an audit entry for each, in one transaction. A detection
/// found again (same id, after a restart or a replay) is left alone, so incidents are neither missed nor repeated.
/// The correlator is rebuilt from the open incidents in the store on first use and after any failed write.
/// </summary>
internal sealed partial class IncidentService(IControlStore store, TimeProvider time, IncidentCorrelatorOptions options, Response.RunStarter runs, ILogger<IncidentService> logger) : IDisposable
{
    /// <summary>How many open incidents (newest first) are reloaded into the correlator.</summary>
    private const int RestoreLimit = 10_000;

    private static readonly ChangeContext System = ChangeContext.System("detection");
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IncidentCorrelator? _correlator;

    public void Dispose() => _gate.Dispose();

    /// <summary>Stores the detections that are new, correlating each into an incident.</summary>
    /// <param name="detections">Detections, in the order they fired.</param>
    /// <param name="cancellationToken">Cancels waiting for the gate; a write once queued commits.</param>
    /// <returns>The detections stored now (with their incident), in order.</returns>
    public async Task<IReadOnlyList<DetectionRecord>> RecordAsync(IReadOnlyList<DetectionRecord> detections, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(detections);
        if (detections.Count == 0)
        {
            return [];
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var correlator = _correlator ??= await LoadAsync(cancellationToken).ConfigureAwait(false);
            var playbooks = await runs.PrepareAsync(cancellationToken).ConfigureAwait(false);
            var now = time.GetUtcNow();
            try
            {
                var started = new List<string>();
                var stored = await store.WriteAsync(tx => Record(tx, correlator, detections, now, playbooks, started), CancellationToken.None).ConfigureAwait(false);
                runs.Started(started);
                foreach (var detection in stored)
                {
                    LogDetection(logger, detection.Rule, detection.Severity, detection.Group, detection.IncidentId!);
                }

                return stored;
            }
            catch
            {
                _correlator = null;
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Resolves an open incident with a verdict; later detections on its entities open a new incident.</summary>
    /// <returns>The resolved incident, or the problem: not found, or not open.</returns>
    public async Task<(IncidentRecord? Incident, ProblemKind? Problem, string? Detail)> ResolveAsync(
        string id, IncidentVerdict verdict, string? note, ChangeContext change, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await store.WriteAsync<(IncidentRecord?, ProblemKind?, string?)>(
                tx =>
                {
                    if (tx.GetIncident(id) is not { } incident)
                    {
                        return (null, ProblemKind.NotFound, $"Incident '{id}' was not found.");
                    }

                    if (incident.Status != IncidentStatus.Open)
                    {
                        return (null, ProblemKind.Conflict, $"Incident '{id}' is {DetectionNames.Name(DetectionNames.IncidentStatuses, incident.Status)}, not open.");
                    }

                    var resolved = incident with
                    {
                        Status = IncidentStatus.Resolved,
                        UpdatedAt = tx.Now,
                        Resolution = new IncidentResolution(verdict, note, change.Actor, tx.Now),
                    };
                    tx.PutIncident(resolved);
                    tx.Append(change.Draft("incident.resolve", "incident/" + id, incident.ToDocument(), resolved.ToDocument()));
                    return (resolved, null, null);
                },
                CancellationToken.None).ConfigureAwait(false);
            if (result.Item1 is not null)
            {
                _correlator?.Close(id);
                runs.Resolved(id);
            }

            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    private List<DetectionRecord> Record(
        IWriteTransaction tx, IncidentCorrelator correlator, IReadOnlyList<DetectionRecord> detections, DateTimeOffset now, IReadOnlyList<Bulwark.Response.PlaybookDefinition> playbooks, List<string> started)
    {
        started.Clear();
        var stored = new List<DetectionRecord>();
        foreach (var detection in detections)
        {
            if (tx.GetDetection(detection.Id) is not null)
            {
                continue;
            }

            var correlation = correlator.Add(detection, now);
            var record = detection with { IncidentId = correlation.Incident.Id, CreatedAt = tx.Now };
            tx.InsertDetection(record);
            tx.Append(System.Draft("detection.create", "detection/" + record.Id, null, record.ToDocument()));
            foreach (var merged in correlation.Merged)
            {
                var before = tx.GetIncident(merged.Id);
                tx.PutIncident(merged);
                tx.Append(System.Draft("incident.merge", "incident/" + merged.Id, before?.ToDocument(), merged.ToDocument()));
            }

            var previous = correlation.Created ? null : tx.GetIncident(correlation.Incident.Id);
            tx.PutIncident(correlation.Incident);
            tx.Append(System.Draft(
                correlation.Created ? "incident.create" : "incident.update",
                "incident/" + correlation.Incident.Id,
                previous?.ToDocument(),
                correlation.Incident.ToDocument()));
            started.AddRange(runs.Start(tx, correlation.Incident, playbooks));
            stored.Add(record);
        }

        return stored;
    }

    private async Task<IncidentCorrelator> LoadAsync(CancellationToken cancellationToken)
    {
        var correlator = new IncidentCorrelator(options);
        var open = await store.ListIncidentsAsync(new IncidentQuery(Status: IncidentStatus.Open, Limit: RestoreLimit), cancellationToken).ConfigureAwait(false);
        var detections = new List<DetectionRecord>();
        foreach (var incident in open)
        {
            var theirs = await store.ListDetectionsAsync(new DetectionQuery(IncidentId: incident.Value.Id, Limit: 1000), cancellationToken).ConfigureAwait(false);
            detections.AddRange(theirs.Select(d => d.Value));
        }

        correlator.Restore(open.Select(i => i.Value), detections);
        return correlator;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Detection {Rule} ({Severity}) on {Group}: incident {Incident}")]
    private static partial void LogDetection(ILogger logger, string rule, Severity severity, string group, string incident);
}
