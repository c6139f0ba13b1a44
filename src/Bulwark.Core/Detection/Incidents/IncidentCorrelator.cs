using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Detection.Incidents;

/// <summary>Options of <see cref="IncidentCorrelator"/>.</summary>
public sealed record IncidentCorrelatorOptions
{
    /// <summary>
    /// How long after an incident's latest detection (in event time) a new detection on one of its entities still joins
    /// it; later ones open a new incident.
    /// </summary>
    /// <value>Default 30 minutes.</value>
    public TimeSpan MergeWindow { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>What adding one detection did.</summary>
/// <param name="Incident">The incident the detection joined, as it is now.</param>
/// <param name="Created">Whether the detection opened it.</param>
/// <param name="Merged">Older open incidents the detection linked to it, now <see cref="IncidentStatus.Merged"/>.</param>
public sealed record Correlation(IncidentRecord Incident, bool Created, IReadOnlyList<IncidentRecord> Merged);

/// <summary>
/// Groups detections into incidents by entity and time. A rule's detection joins the open incident that shares an
/// account, an IP or its group value (for example the same base mailbox) and whose latest detection is within the
/// merge window; when it links several, they merge into the oldest, and accounts linked that way make a campaign. A
/// detector's detection (a rate anomaly, which lists many accounts) joins only the open incident of the same detector
/// and group. Severity is the highest of the detections; confidence combines the rules' (1 − Π(1 − cᵢ), each rule at its
/// most confident), and halves the remaining doubt when detections came from two platforms or more. Not thread-safe:
/// one consumer feeds it, in the order detections are stored; <see cref="Restore"/> reloads open incidents after a
/// restart.
/// </summary>
public sealed class IncidentCorrelator(IncidentCorrelatorOptions? options = null)
{
    private readonly TimeSpan _window = (options ?? new IncidentCorrelatorOptions()).MergeWindow;
    private readonly Dictionary<string, OpenIncident> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _byEntity = new(StringComparer.Ordinal);
    private DateTimeOffset _sweptAt = DateTimeOffset.MinValue;

    /// <summary>How many incidents are open and still within their merge window (as of the last detection added).</summary>
    public int OpenCount => _open.Count;

    /// <summary>Reloads open incidents (for example from the store after a restart); others are ignored.</summary>
    /// <param name="incidents">The incidents.</param>
    /// <param name="detections">Their detections, for the per-rule confidences (those not given count as the incident's).</param>
    public void Restore(IEnumerable<IncidentRecord> incidents, IEnumerable<DetectionRecord>? detections = null)
    {
        ArgumentNullException.ThrowIfNull(incidents);
        var byIncident = (detections ?? []).Where(d => d.IncidentId is not null).ToLookup(d => d.IncidentId!, StringComparer.Ordinal);
        foreach (var incident in incidents.Where(i => i.Status == IncidentStatus.Open))
        {
            var open = new OpenIncident(incident);
            foreach (var detection in byIncident[incident.Id])
            {
                open.Confidences[detection.Rule] = Math.Max(open.Confidences.GetValueOrDefault(detection.Rule), detection.Confidence);
                open.EntityKeys.UnionWith(EntityKeys(detection));
            }

            if (open.Confidences.Count == 0)
            {
                foreach (var rule in incident.Rules)
                {
                    open.Confidences[rule] = incident.Confidence;
                }

                open.EntityKeys.UnionWith(incident.Accounts.Select(a => "a:" + a));
                open.EntityKeys.UnionWith(incident.Ips.Select(i => "i:" + i));
            }

            Track(open);
        }
    }

    /// <summary>Adds a detection: it joins (and maybe merges) open incidents or opens one.</summary>
    /// <param name="detection">The detection (its <see cref="DetectionRecord.IncidentId"/> is ignored).</param>
    /// <param name="now">Wall time, for the incident's timestamps.</param>
    /// <returns>What changed.</returns>
    public Correlation Add(DetectionRecord detection, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(detection);
        Sweep(detection.FirstEventAt);
        var keys = EntityKeys(detection);
        var linked = keys
            .Select(k => _byEntity.GetValueOrDefault(k))
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .Select(id => _open[id])
            .Where(o => o.Incident.LastEventAt + _window >= detection.FirstEventAt)
            .OrderBy(o => o.Incident.CreatedAt)
            .ThenBy(o => o.Incident.Id, StringComparer.Ordinal)
            .ToList();

        if (linked.Count == 0)
        {
            var opened = new OpenIncident(new IncidentRecord
            {
                Id = IncidentIdFor(detection.Id),
                Title = string.Empty,
                Kind = IncidentKind.Account,
                Status = IncidentStatus.Open,
                Severity = detection.Severity,
                Confidence = detection.Confidence,
                FirstEventAt = detection.FirstEventAt,
                DetectedEventAt = detection.DetectedEventAt,
                LastEventAt = detection.DetectedEventAt,
                CreatedAt = now,
                UpdatedAt = now,
            });
            Join(opened, detection, keys, now);
            Track(opened);
            return new Correlation(opened.Incident, Created: true, Merged: []);
        }

        var target = linked[0];
        var merged = new List<IncidentRecord>();
        foreach (var other in linked.Skip(1))
        {
            Absorb(target, other);
            Forget(other);
            merged.Add(other.Incident with { Status = IncidentStatus.Merged, MergedInto = target.Incident.Id, UpdatedAt = now });
        }

        Join(target, detection, keys, now);
        Track(target);
        return new Correlation(target.Incident, Created: false, merged);
    }

    /// <summary>Takes a resolved incident out of correlation: later detections on its entities open a new one.</summary>
    /// <param name="incidentId">The incident.</param>
    public void Close(string incidentId)
    {
        if (_open.TryGetValue(incidentId, out var open))
        {
            Forget(open);
        }
    }

    /// <summary>The incident id a detection opens: derived from the detection's, so a replay opens the same one.</summary>
    /// <param name="detectionId">The detection's id.</param>
    /// <returns>The incident id.</returns>
    public static string IncidentIdFor(string detectionId)
    {
        ArgumentNullException.ThrowIfNull(detectionId);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes("incident:" + detectionId), hash);
        return "inc_" + Convert.ToHexStringLower(hash[..12]);
    }

    private static HashSet<string> EntityKeys(DetectionRecord detection)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        if (detection.Origin == DetectionOrigin.Detector)
        {
            keys.Add("d:" + detection.Rule + "|" + detection.Group);
            return keys;
        }

        keys.UnionWith(detection.Accounts.Select(a => "a:" + a));
        keys.UnionWith(detection.Ips.Select(i => "i:" + i));
        keys.Add("g:" + detection.Group);
        return keys;
    }

    private static void Absorb(OpenIncident target, OpenIncident other)
    {
        foreach (var (rule, confidence) in other.Confidences)
        {
            target.Confidences[rule] = Math.Max(target.Confidences.GetValueOrDefault(rule), confidence);
        }

        target.EntityKeys.UnionWith(other.EntityKeys);
        var a = target.Incident;
        var b = other.Incident;
        target.Incident = a with
        {
            Severity = a.Severity > b.Severity ? a.Severity : b.Severity,
            Accounts = Union(a.Accounts, b.Accounts),
            Ips = Union(a.Ips, b.Ips),
            Rules = Union(a.Rules, b.Rules),
            Platforms = Union(a.Platforms, b.Platforms),
            DetectionIds = [.. a.DetectionIds, .. b.DetectionIds.Where(id => !a.DetectionIds.Contains(id))],
            FirstEventAt = Min(a.FirstEventAt, b.FirstEventAt),
            DetectedEventAt = Min(a.DetectedEventAt, b.DetectedEventAt),
            LastEventAt = Max(a.LastEventAt, b.LastEventAt),
        };
    }

    private static void Join(OpenIncident open, DetectionRecord detection, HashSet<string> keys, DateTimeOffset now)
    {
        open.Confidences[detection.Rule] = Math.Max(open.Confidences.GetValueOrDefault(detection.Rule), detection.Confidence);
        open.EntityKeys.UnionWith(keys);
        var i = open.Incident;
        var platforms = Union(i.Platforms, detection.Platforms);
        var accounts = Union(i.Accounts, detection.Accounts);
        var ips = Union(i.Ips, detection.Ips);
        var rules = Union(i.Rules, [detection.Rule]);
        var kind = detection.Origin == DetectionOrigin.Detector || i.Kind == IncidentKind.Anomaly
            ? IncidentKind.Anomaly
            : accounts.Length > 1 ? IncidentKind.Campaign : accounts.Length == 1 ? IncidentKind.Account : IncidentKind.Ip;
        var updated = i with
        {
            Kind = kind,
            Severity = detection.Severity > i.Severity ? detection.Severity : i.Severity,
            Confidence = Combine(open.Confidences.Values, platforms.Length),
            Accounts = accounts,
            Ips = ips,
            Rules = rules,
            Platforms = platforms,
            DetectionIds = i.DetectionIds.Contains(detection.Id) ? i.DetectionIds : [.. i.DetectionIds, detection.Id],
            FirstEventAt = Min(i.FirstEventAt, detection.FirstEventAt),
            DetectedEventAt = Min(i.DetectedEventAt, detection.DetectedEventAt),
            LastEventAt = Max(i.LastEventAt, detection.DetectedEventAt),
            UpdatedAt = now,
        };
        open.Incident = updated with { Title = Title(updated, detection) };
    }

    /// <summary>1 − Π(1 − cᵢ) over the rules, then half the remaining doubt when two platforms or more agree.</summary>
    private static double Combine(IEnumerable<double> confidences, int platforms)
    {
        var doubt = 1.0;
        foreach (var c in confidences)
        {
            doubt *= 1 - Math.Clamp(c, 0, 1);
        }

        if (platforms >= 2)
        {
            doubt /= 2;
        }

        return Math.Min(1 - doubt, 0.999);
    }

    private static string Title(IncidentRecord incident, DetectionRecord detection)
    {
        var rules = string.Join(", ", incident.Rules);
        return incident.Kind switch
        {
            IncidentKind.Anomaly => $"{detection.Rule}: {detection.Group}",
            IncidentKind.Campaign => $"Campaign: {incident.Accounts.Count} accounts, {incident.Ips.Count} IPs ({rules})",
            IncidentKind.Account => $"{rules} on {incident.Accounts[0]}",
            _ => incident.Ips.Count switch
            {
                0 => $"{rules}: {detection.Group}",
                1 => $"{rules} from {incident.Ips[0]}",
                var n => $"{rules} from {incident.Ips[0]} and {n - 1} more IPs",
            },
        };
    }

    private void Track(OpenIncident open)
    {
        _open[open.Incident.Id] = open;
        foreach (var key in open.EntityKeys)
        {
            _byEntity[key] = open.Incident.Id;
        }
    }

    private void Forget(OpenIncident open)
    {
        _open.Remove(open.Incident.Id);
        foreach (var key in open.EntityKeys)
        {
            if (_byEntity.TryGetValue(key, out var id) && id == open.Incident.Id)
            {
                _byEntity.Remove(key);
            }
        }
    }

    /// <summary>Drops incidents whose merge window has passed (at most once per window of event time), so state stays bounded.</summary>
    private void Sweep(DateTimeOffset eventTime)
    {
        if (eventTime - _sweptAt < _window)
        {
            return;
        }

        _sweptAt = eventTime;
        foreach (var open in _open.Values.Where(o => o.Incident.LastEventAt + _window < eventTime).ToList())
        {
            Forget(open);
        }
    }

    private static string[] Union(IEnumerable<string> a, IEnumerable<string> b) =>
        [.. a.Concat(b).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a <= b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a >= b ? a : b;

    private sealed class OpenIncident(IncidentRecord incident)
    {
        public IncidentRecord Incident { get; set; } = incident;

        public Dictionary<string, double> Confidences { get; } = new(StringComparer.Ordinal);

        public HashSet<string> EntityKeys { get; } = new(StringComparer.Ordinal);
    }
}
