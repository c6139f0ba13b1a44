using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Bulwark.Server.Metrics;

/// <summary>
/// Collects the instruments of one <see cref="Meter"/> and renders them in the Prometheus text exposition format
/// (version 0.0.4). Counters get <c>_total</c>; units <c>s</c> and <c>By</c> become <c>_seconds</c> and <c>_bytes</c>;
/// histograms use fixed buckets suited to request latencies. Prometheus client packages are not available here, and the
/// format is small enough to own.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly Meter _meter;
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Family> _families = new();

    public PrometheusExporter(Meter meter)
    {
        _meter = meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter))
            {
                _families[instrument] = new Family(instrument);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public string Render()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            family.Render(text);
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_families.TryGetValue(instrument, out var family))
        {
            family.Record(value, tags);
        }
    }

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    private sealed class Family(Instrument instrument)
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);
        private readonly string _type = instrument switch
        {
            Histogram<double> or Histogram<long> => "histogram",
            Counter<long> or Counter<double> or ObservableCounter<long> or ObservableCounter<double> => "counter",
            _ => "gauge",
        };

        // Up-down counters send deltas, observable gauges send values: both are Prometheus gauges.
        private readonly bool _additive = instrument is UpDownCounter<long> or UpDownCounter<double> or Counter<long> or Counter<double> or Histogram<double> or Histogram<long>;

        public string Name { get; } = BaseName(instrument);

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var hash = Hash(tags);
            var series = Find(hash, tags) ?? Add(hash, tags);
            series.Record(value, _type, _additive);
        }

        public void Render(StringBuilder text)
        {
            var name = _type == "counter" ? Name + "_total" : Name;
            text.Append("# HELP ").Append(name).Append(' ').Append(instrument.Description ?? instrument.Name).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(_type).Append('\n');
            foreach (var (labels, series) in _series.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                series.Render(text, name, labels, _type);
            }
        }

        private static string BaseName(Instrument instrument)
        {
            var name = instrument.Name.Replace('.', '_').Replace('-', '_');
            return instrument.Unit switch
            {
                "s" => name + "_seconds",
                "By" => name + "_bytes",
                _ => name,
            };
        }

        // Measurements come with the same few tag sets over and over: they are matched by their values here, so that the
        // label text (sorted, escaped, joined) is built once per series rather than once per measurement.
        private readonly ConcurrentDictionary<int, TaggedSeries[]> _byTags = new();

        private static int Hash(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var hash = tags.Length;
            foreach (var (key, value) in tags)
            {
                hash ^= HashCode.Combine(key, value); // Order-independent: the same tags in another order are one series.
            }

            return hash;
        }

        private Series? Find(int hash, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (_byTags.TryGetValue(hash, out var candidates))
            {
                foreach (var candidate in candidates)
                {
                    if (candidate.Matches(tags))
                    {
                        return candidate.Series;
                    }
                }
            }

            return null;
        }

        private Series Add(int hash, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = _series.GetOrAdd(Labels(tags), static (_, histogram) => new Series(histogram), _type == "histogram");
            var entry = new TaggedSeries(tags.ToArray(), series);
            _byTags.AddOrUpdate(hash, static (_, entry) => [entry], static (_, existing, entry) => [.. existing, entry], entry);
            return series;
        }

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0)
            {
                return string.Empty;
            }

            var pairs = new List<KeyValuePair<string, object?>>(tags.ToArray());
            pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            return string.Join(',', pairs.Select(p => $"{p.Key.Replace('.', '_')}=\"{Escape(Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? string.Empty)}\""));
        }
    }

    /// <summary>A series with the tag values that name it.</summary>
    private sealed class TaggedSeries(KeyValuePair<string, object?>[] tags, Series series)
    {
        public Series Series => series;

        public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> other)
        {
            if (other.Length != tags.Length)
            {
                return false;
            }

            foreach (var (key, value) in other)
            {
                var found = false;
                foreach (var (ownKey, ownValue) in tags)
                {
                    if (string.Equals(key, ownKey, StringComparison.Ordinal) && Equals(value, ownValue))
                    {
                        found = true;
                        break;
                    }
                }

                if (!found)
                {
                    return false;
                }
            }

            return true;
        }
    }

    private sealed class Series(bool histogram)
    {
        private readonly Lock _gate = new();
        private readonly long[] _buckets = histogram ? new long[Buckets.Length] : [];
        private double _value;
        private long _count;

        public void Record(double value, string type, bool additive)
        {
            lock (_gate)
            {
                switch (type)
                {
                    case "counter":
                        _value += value;
                        break;
                    case "gauge":
                        _value = additive ? _value + value : value;
                        break;
                    default:
                        _value += value;
                        _count++;
                        for (var i = 0; i < Buckets.Length; i++)
                        {
                            if (value <= Buckets[i])
                            {
                                _buckets[i]++;
                            }
                        }

                        break;
                }
            }
        }

        public void Render(StringBuilder text, string name, string labels, string type)
        {
            lock (_gate)
            {
                if (type != "histogram")
                {
                    text.Append(name).Append(Braces(labels)).Append(' ').Append(Format(_value)).Append('\n');
                    return;
                }

                var prefix = labels.Length == 0 ? string.Empty : labels + ",";
                for (var i = 0; i < Buckets.Length; i++)
                {
                    text.Append(name).Append("_bucket{").Append(prefix).Append("le=\"").Append(Format(Buckets[i])).Append("\"} ").Append(_buckets[i]).Append('\n');
                }

                text.Append(name).Append("_bucket{").Append(prefix).Append("le=\"+Inf\"} ").Append(_count).Append('\n');
                text.Append(name).Append("_sum").Append(Braces(labels)).Append(' ').Append(Format(_value)).Append('\n');
                text.Append(name).Append("_count").Append(Braces(labels)).Append(' ').Append(_count).Append('\n');
            }
        }

        private static string Braces(string labels) => labels.Length == 0 ? string.Empty : "{" + labels + "}";
    }
}
