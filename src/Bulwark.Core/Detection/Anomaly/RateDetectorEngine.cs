using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Detection.Rules;
using Bulwark.Ingest;

namespace Bulwark.Detection.Anomaly;

/// <summary>
/// Runs statistical detectors over events in event time: each detector counts its matching events per key in fixed
/// buckets; when event time passes a bucket's end (by the lateness), the bucket's count is scored by the key's model, and
/// empty buckets in between are scored as zeros, so a key's series has no gaps. A bucket that scores at or above the
/// threshold with at least the minimum count fires a detection naming the accounts and IPs whose events made it up
/// (bounded), with expected against observed. A bucket need not close to fire: its count so far is a lower bound of
/// its final count, so as soon as that count alone scores at or above the threshold (the models look for surges) the
/// bucket fires at the event that took it there; when it closes with more events, a second detection of the same
/// bucket lists them all. Every bucket of an episode (a run of anomalous buckets) fires, so that its incident lists every
/// account of the surge; the suppression period keeps a new episode of the key from firing until it has passed. A key seen for the first time starts with the empty buckets since the
/// engine's first event as its history (up to the warm-up), so a burst on a key that was silent until then is measured
/// against silence. Not thread-safe: one consumer feeds it.
/// </summary>
public sealed class RateDetectorEngine
{
    /// <summary>The most accounts, IPs and event ids a detection keeps.</summary>
    public const int MaxEntities = 1000;

    /// <summary>The most empty buckets scored as zeros between two buckets of one key (a key silent longer restarts quiet).</summary>
    private const int MaxGapBuckets = 1440;

    private readonly Compiled[] _detectors;
    private readonly TimeSpan _lateness;
    private long _watermarkTicks = long.MinValue;
    private long _firstTicks = long.MaxValue;

    /// <summary>Compiles detectors into an engine.</summary>
    /// <param name="detectors">The detectors (unique names).</param>
    /// <param name="lateness">How far behind the newest event a bucket still takes events; default 2 minutes.</param>
    public RateDetectorEngine(IEnumerable<DetectorDefinition> detectors, TimeSpan? lateness = null)
    {
        ArgumentNullException.ThrowIfNull(detectors);
        _detectors = [.. detectors.Select(d => new Compiled(d))];
        _lateness = lateness ?? TimeSpan.FromMinutes(2);
    }

    /// <summary>Events too late for their bucket (it was scored already), not counted.</summary>
    public long Late { get; private set; }

    /// <summary>Keys with state, over every detector.</summary>
    public int ActiveKeys => _detectors.Sum(d => d.Keys.Count);

    /// <summary>Counts one event; returns the detections of the buckets that closed.</summary>
    /// <param name="value">The event.</param>
    /// <returns>The detections, in event-time order.</returns>
    public IReadOnlyList<DetectionRecord> Add(NormalizedEvent value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var fired = new List<DetectionRecord>();
        var ticks = value.Timestamp.UtcTicks;
        _firstTicks = Math.Min(_firstTicks, ticks);
        foreach (var detector in _detectors)
        {
            if (!detector.Match(value))
            {
                continue;
            }

            var key = detector.Key(value);
            var bucket = detector.BucketOf(ticks);
            if (!detector.Keys.TryGetValue(key, out var state))
            {
                state = new KeyState(detector.Definition.CreateModel(), bucket);
                detector.Keys[key] = state;

                // The engine has watched since its first event and this key had nothing: that is its history so far.
                var silent = Math.Min(bucket - detector.BucketOf(_firstTicks), detector.Definition.WarmUp);
                for (var b = bucket - silent; b < bucket; b++)
                {
                    state.Model.Score(detector.StartOf(b), 0);
                }
            }

            if (bucket < state.Bucket)
            {
                Late++;
                continue;
            }

            if (bucket > state.Bucket)
            {
                Close(detector, key, state, bucket, fired);
            }

            state.Add(value);
            FireEarly(detector, key, state, ticks, fired);
        }

        if (ticks > _watermarkTicks)
        {
            _watermarkTicks = ticks;
            CloseDue(fired);
        }

        return fired;
    }

    /// <summary>Scores every open bucket (the end of a trace): returns what fires.</summary>
    /// <returns>The detections.</returns>
    public IReadOnlyList<DetectionRecord> Flush()
    {
        var fired = new List<DetectionRecord>();
        foreach (var detector in _detectors)
        {
            foreach (var (key, state) in detector.Keys.ToList())
            {
                Close(detector, key, state, state.Bucket + 1, fired);
            }
        }

        return fired;
    }

    /// <summary>Closes the buckets that event time (less the lateness) has passed, for keys that have gone quiet.</summary>
    private void CloseDue(List<DetectionRecord> fired)
    {
        var due = _watermarkTicks - _lateness.Ticks;
        foreach (var detector in _detectors)
        {
            var dueBucket = detector.BucketOf(due);
            if (dueBucket <= detector.ClosedThrough)
            {
                continue;
            }

            detector.ClosedThrough = dueBucket;
            foreach (var (key, state) in detector.Keys.ToList())
            {
                if (state.Bucket < dueBucket)
                {
                    Close(detector, key, state, dueBucket, fired);
                }
            }
        }
    }

    /// <summary>Fires the key's open bucket before it closes when its count so far is already anomalous.</summary>
    private static void FireEarly(Compiled detector, string key, KeyState state, long ticks, List<DetectionRecord> fired)
    {
        var definition = detector.Definition;
        if (state.FiredAt is not null || state.Count < definition.MinCount)
        {
            return;
        }

        var start = detector.StartOf(state.Bucket);
        if (start < state.QuietUntil && !state.InEpisode)
        {
            return;
        }

        var score = state.Model.Peek(start, state.Count);
        if (score.Ready && score.Score >= definition.Threshold)
        {
            var at = new DateTimeOffset(ticks, TimeSpan.Zero);
            fired.Add(Detection(detector, key, state, start, score, at, closed: false));
            state.FiredAt = state.Count;
            state.QuietUntil = start + definition.Suppress;
        }
    }

    /// <summary>Scores the key's open bucket, then the empty buckets up to <paramref name="next"/>, and opens <paramref name="next"/>.</summary>
    private static void Close(Compiled detector, string key, KeyState state, long next, List<DetectionRecord> fired)
    {
        var definition = detector.Definition;
        var start = detector.StartOf(state.Bucket);
        var score = state.Model.Score(start, state.Count);
        var end = start + definition.Bucket;
        if (state.FiredAt is { } early)
        {
            // It fired while filling: now that it is complete, list what came after, if anything did.
            if (state.Count > early)
            {
                fired.Add(Detection(detector, key, state, start, score, end, closed: true));
            }
        }
        else if (score.Ready && score.Score >= definition.Threshold && state.Count >= definition.MinCount && (start >= state.QuietUntil || state.InEpisode))
        {
            fired.Add(Detection(detector, key, state, start, score, end, closed: false));
            state.QuietUntil = start + definition.Suppress;
        }

        // An episode is a run of anomalous buckets: each of them fires (so its accounts are listed), and suppression
        // keeps a new episode from starting until it has passed.
        state.InEpisode = state.FiredAt is not null || (score.Ready && score.Score >= definition.Threshold && state.Count >= definition.MinCount);

        var gap = Math.Min(next - state.Bucket - 1, MaxGapBuckets);
        for (var i = 1; i <= gap; i++)
        {
            state.Model.Score(detector.StartOf(state.Bucket + i), 0);
        }

        state.InEpisode &= gap == 0;

        state.Reset(next);
    }

    /// <summary>
    /// The detection of a bucket: when it fired (<paramref name="closed"/> false; one per bucket, whether it fired while
    /// filling or at its end), or the complete bucket after an early firing (<paramref name="closed"/> true).
    /// </summary>
    private static DetectionRecord Detection(Compiled detector, string key, KeyState state, DateTimeOffset start, SeriesScore score, DateTimeOffset at, bool closed)
    {
        var definition = detector.Definition;
        var group = key.Length == 0 ? "all" : key;
        var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{definition.Name}\n{group}\n{start.UtcTicks}{(closed ? "\nclosed" : "")}")).AsSpan(0, 12));
        var so = at < start + definition.Bucket
            ? string.Create(CultureInfo.InvariantCulture, $" so far (bucket of {definition.Bucket.TotalSeconds:0} s still filling)")
            : closed ? string.Create(CultureInfo.InvariantCulture, $" (the whole bucket; it fired at {state.FiredAt} events)") : string.Create(CultureInfo.InvariantCulture, $" in {definition.Bucket.TotalSeconds:0} s");
        return new DetectionRecord
        {
            Id = "det_" + id,
            Origin = DetectionOrigin.Detector,
            Rule = definition.Name,
            Severity = definition.Severity,
            Confidence = definition.Confidence,
            Group = group,
            Accounts = [.. state.Accounts.Order(StringComparer.Ordinal)],
            Ips = [.. state.Ips.Order(StringComparer.Ordinal)],
            Platforms = [.. state.Platforms.Order(StringComparer.Ordinal)],
            EventIds = [.. state.EventIds],
            EventCount = state.Count,
            FirstEventAt = state.FirstAt,
            DetectedEventAt = at,
            Explanation = string.Create(
                CultureInfo.InvariantCulture,
                $"{state.Count} events{so} for {group}; expected {score.Expected:0.#} (z = {score.ZScore:0.#}, score {score.Score:0.00})"),
            Evidence = new JsonObject
            {
                ["observed"] = state.Count,
                ["expected"] = Math.Round(score.Expected, 3),
                ["z_score"] = Math.Round(score.ZScore, 3),
                ["score"] = Math.Round(score.Score, 4),
                ["bucket_start"] = Audit.AuditChain.FormatTime(start),
                ["bucket_seconds"] = definition.Bucket.TotalSeconds,
                ["bucket_complete"] = at >= start + definition.Bucket,
            },
            Actions = definition.Actions,
        };
    }

    private sealed class Compiled(DetectorDefinition definition)
    {
        private readonly Func<NormalizedEvent, string?>[] _groupBy = [.. definition.GroupBy.Select(EventFields.Compile)];

        public DetectorDefinition Definition { get; } = definition;

        public Func<NormalizedEvent, bool> Match { get; } = CompiledMatch.Compile(definition.Match);

        public Dictionary<string, KeyState> Keys { get; } = new(StringComparer.Ordinal);

        public long ClosedThrough { get; set; } = long.MinValue;

        public string Key(NormalizedEvent value) =>
            string.Join(
                ",",
                _groupBy.Select((get, i) => $"{Definition.GroupBy[i]}={get(value) ?? "-"}"));

        public long BucketOf(long ticks) => Math.DivRem(ticks, Definition.Bucket.Ticks, out var rest) - (rest < 0 ? 1 : 0);

        public DateTimeOffset StartOf(long bucket) => new(bucket * Definition.Bucket.Ticks, TimeSpan.Zero);
    }

    private sealed class KeyState(ISeriesDetector model, long bucket)
    {
        public ISeriesDetector Model { get; } = model;

        public long Bucket { get; private set; } = bucket;

        public int Count { get; private set; }

        public DateTimeOffset FirstAt { get; private set; }

        public DateTimeOffset QuietUntil { get; set; } = DateTimeOffset.MinValue;

        /// <summary>Whether the last closed bucket was anomalous: the next one may fire although the key is quiet.</summary>
        public bool InEpisode { get; set; }

        /// <summary>The count at which the open bucket fired before closing, if it did.</summary>
        public int? FiredAt { get; set; }

        public HashSet<string> Accounts { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Ips { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Platforms { get; } = new(StringComparer.Ordinal);

        public List<string> EventIds { get; } = [];

        public void Add(NormalizedEvent value)
        {
            if (Count == 0 || value.Timestamp < FirstAt)
            {
                FirstAt = value.Timestamp;
            }

            Count++;
            if (Accounts.Count < MaxEntities)
            {
                Accounts.Add(value.AccountId);
            }

            if (value.Actor?.Ip is { } ip && Ips.Count < MaxEntities)
            {
                Ips.Add(ip);
            }

            Platforms.Add(value.Platform);
            if (EventIds.Count < DetectionRecord.MaxEventIds)
            {
                EventIds.Add(value.Id);
            }
        }

        public void Reset(long bucket)
        {
            Bucket = bucket;
            Count = 0;
            FiredAt = null;
            Accounts.Clear();
            Ips.Clear();
            Platforms.Clear();
            EventIds.Clear();
        }
    }
}
