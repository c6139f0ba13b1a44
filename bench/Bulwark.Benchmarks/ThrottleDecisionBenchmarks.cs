using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Bulwark.Throttling;

namespace Bulwark.Benchmarks;

/// <summary>How the keys of the decision sequence are drawn from the 1,000,000 keys.</summary>
public enum ThrottleWorkload
{
    /// <summary>Every key equally likely.</summary>
    Uniform,

    /// <summary>Zipf, s = 1.0: the key of rank k is drawn with probability proportional to 1/k (the top one 7% of the time).</summary>
    Zipf,
}

/// <summary>
/// In-process throttle decisions over 1,000,000 distinct keys, one token-bucket layer per key (1,000 per second, burst
/// 100): Bulwark's <see cref="ThrottleEngine"/> against System.Threading.RateLimiting's
/// <c>PartitionedRateLimiter</c> with a token-bucket partition per key, configured alike. Both sides decide the same
/// precomputed key sequence (uniform or Zipf); every key is tracked before measuring. Times and allocations are per
/// decision; the setup also prints the bytes each side holds per tracked key.
/// </summary>
/// <remarks>
/// <para>
/// Bulwark decides in two ways that allocate nothing per decision: with one prebuilt <see cref="ThrottleKeys"/> per key
/// (a caller that keeps one per subject; three dependent reads reach the key's text), and with the key's string as a
/// name–value pair on the stack, which is what the peer is given (a caller on a request path).
/// </para>
/// <para>
/// The peer refills from its own 100 ms timer on the real clock and cannot be given a fake one; Bulwark is given a fake
/// clock advanced by <see cref="StepTicks"/> per decision (about the peer's real time per decision, so both see about
/// the same requests per key per second). Each side prints the share of decisions it admitted when its run ends. The
/// peer also evicts a partition 10 s (real time) after its bucket is full again, so the setup runs one pass over the
/// sequence before measuring and BenchmarkDotNet does not force collections between iterations: time in which no
/// decisions are made would otherwise evict partitions that a steady stream keeps.
/// </para>
/// </remarks>
[MemoryDiagnoser]
[GcForce(false)]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class ThrottleDecisionBenchmarks
{
    /// <summary>Fake time per Bulwark decision, in ticks of 100 ns.</summary>
    public const long StepTicks = 10;

    private const int Keys = 1_000_000;
    private const int Decisions = 100_000;
    private const int SequenceLength = 1 << 22;
    private const int Limit = 1_000;
    private const int Burst = 100;
    private const ulong Seed = 0x5EED_2026;
    private static readonly TimeSpan Per = TimeSpan.FromSeconds(1);
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private string[] _names = null!;
    private ThrottleKeys[]? _keys;
    private int[] _sequence = null!;
    private PartitionedRateLimiter<string>? _limiter;
    private ThrottleEngine? _engine;
    private DateTimeOffset _now;
    private int _position;
    private long _decided;
    private long _admitted;
    private string _case = string.Empty;

    /// <summary>The key sequence both sides decide.</summary>
    [Params(ThrottleWorkload.Uniform, ThrottleWorkload.Zipf)]
    public ThrottleWorkload Workload { get; set; }

    [GlobalSetup(Target = nameof(PartitionedRateLimiter))]
    public void SetupPartitionedRateLimiter() => Setup(nameof(PartitionedRateLimiter), () => PartitionedRateLimiter());

    [GlobalSetup(Target = nameof(Bulwark))]
    public void SetupBulwark() => Setup(nameof(Bulwark), () => Bulwark());

    [GlobalSetup(Target = nameof(BulwarkPairs))]
    public void SetupBulwarkPairs() => Setup(nameof(BulwarkPairs), () => BulwarkPairs());

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// ThrottleDecisionBenchmarks {Workload} {_case}: admitted {_admitted:N0} of {_decided:N0} decisions ({100.0 * _admitted / Math.Max(1, _decided):F1}%)");
        _limiter?.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Decisions, Description = "PartitionedRateLimiter (token bucket)")]
    public int PartitionedRateLimiter()
    {
        var limiter = _limiter!;
        var admitted = 0;
        var position = _position;
        for (var i = 0; i < Decisions; i++)
        {
            using var lease = limiter.AttemptAcquire(_names[_sequence[position]], 1);
            if (lease.IsAcquired)
            {
                admitted++;
            }

            position = (position + 1) & (SequenceLength - 1);
        }

        _position = position;
        _decided += Decisions;
        _admitted += admitted;
        return admitted;
    }

    [Benchmark(OperationsPerInvoke = Decisions, Description = "Bulwark ThrottleEngine, ThrottleKeys per key")]
    public int Bulwark() => DecideAll(new PrebuiltKeys(_keys!));

    [Benchmark(OperationsPerInvoke = Decisions, Description = "Bulwark ThrottleEngine, key pairs")]
    public int BulwarkPairs() => DecideAll(new KeyPairs(_names));

    /// <summary>One invocation of a Bulwark case; a struct <typeparamref name="TDecider"/>, so the call is inlined.</summary>
    private int DecideAll<TDecider>(TDecider decider)
        where TDecider : struct, IDecider
    {
        var engine = _engine!;
        var admitted = 0;
        var position = _position;
        var now = _now;
        for (var i = 0; i < Decisions; i++)
        {
            now = now.AddTicks(StepTicks);
            if (decider.Decide(engine, _sequence[position], now).Kind == ThrottleDecisionKind.Allow)
            {
                admitted++;
            }

            position = (position + 1) & (SequenceLength - 1);
        }

        _position = position;
        _now = now;
        _decided += Decisions;
        _admitted += admitted;
        return admitted;
    }

    private void Setup(string measured, Action invoke)
    {
        // The callers' objects, built once: the key strings (both sides) and Bulwark's ThrottleKeys per key.
        _names = new string[Keys];
        _keys = new ThrottleKeys[Keys];
        for (var i = 0; i < Keys; i++)
        {
            _names[i] = $"user-{i:D7}";
            _keys[i] = ThrottleKeys.Of(("user", _names[i]));
        }

        var random = new SplitMix64(Seed);
        _sequence = Workload == ThrottleWorkload.Uniform ? UniformSequence(ref random) : ZipfSequence(1.0, ref random);

        _limiter = System.Threading.RateLimiting.PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Burst,
            TokensPerPeriod = Limit,
            ReplenishmentPeriod = Per,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        _engine = new ThrottleEngine(
            new ThrottlePolicy
            {
                Name = "bench",
                Layers = [new ThrottleLayer { Name = "user", Key = "user", Limit = Limit, Per = Per, Burst = Burst }],
                MaxKeys = Keys,
            },
            new KeyHash(Seed));

        // Bytes per tracked key: every key decided once on each side; the key strings and ThrottleKeys exist before.
        // Bulwark first: the peer's timer evicts partitions 10 s after they are full and idle, which would shrink the
        // heap under a later measurement.
        var engineBytes = BytesPerKey(() =>
        {
            foreach (var keys in _keys)
            {
                _engine.Decide(keys, 1, Start);
            }
        });
        var limiterBytes = BytesPerKey(() =>
        {
            foreach (var name in _names)
            {
                _limiter.AttemptAcquire(name, 1).Dispose();
            }

            // Let the 100 ms timer run over the new partitions: the list of them it keeps is part of what they cost.
            Thread.Sleep(300);
        });
        var (_, tracked, slotBytes) = _engine.TrackedKeys()[0];
        Console.WriteLine($"// ThrottleDecisionBenchmarks: bytes per tracked key (GC heap after - before, / {Keys:N0}): PartitionedRateLimiter {limiterBytes:F1}, Bulwark {engineBytes:F1} (ThrottleEngine.TrackedKeys: {tracked:N0} keys, {slotBytes:N0} slot bytes, {(double)slotBytes / tracked:F1} per key)");

        // Both sides must admit and deny alike: a full bucket admits the burst, then denies. The peer refills from a
        // timer on the real clock, which may land inside the check; a second sample key settles that.
        _now = Start.AddSeconds(1);
        var agreed = false;
        for (var attempt = 0; attempt < 3 && !agreed; attempt++)
        {
            var sample = Keys / 2 + attempt;
            agreed = true;
            for (var i = 0; i < Burst + 2; i++)
            {
                using var lease = _limiter.AttemptAcquire(_names[sample], 1);
                var bulwark = _engine.Decide(_keys[sample], 1, _now).Kind == ThrottleDecisionKind.Allow;
                agreed &= lease.IsAcquired == bulwark && bulwark == i < Burst;
            }
        }

        if (!agreed)
        {
            throw new InvalidOperationException($"the two sides disagree on the first {Burst + 2} decisions of a key");
        }

        // Only the side measured stays: the peer's timer must not run beside Bulwark, nor a million ThrottleKeys beside
        // the cases that do not use them.
        if (measured == nameof(PartitionedRateLimiter))
        {
            _engine = null;
        }
        else
        {
            _limiter.Dispose();
            _limiter = null;
        }

        if (measured != nameof(Bulwark))
        {
            _keys = null;
        }

        _case = measured;
        GC.Collect();

        // One pass over the whole sequence, so that every key was decided moments before measuring starts.
        for (var i = 0; i < SequenceLength / Decisions; i++)
        {
            invoke();
        }

        (_decided, _admitted) = (0, 0);
    }

    private static double BytesPerKey(Action insert)
    {
        var before = GC.GetTotalMemory(forceFullCollection: true);
        insert();
        return (GC.GetTotalMemory(forceFullCollection: true) - before) / (double)Keys;
    }

    private static int[] UniformSequence(ref SplitMix64 random)
    {
        var sequence = new int[SequenceLength];
        for (var i = 0; i < sequence.Length; i++)
        {
            sequence[i] = random.Next(Keys);
        }

        return sequence;
    }

    /// <summary>Zipf by inverting the cumulative weights of the ranks; ranks are given to keys by a seeded shuffle.</summary>
    private static int[] ZipfSequence(double exponent, ref SplitMix64 random)
    {
        var cumulative = new double[Keys];
        var total = 0.0;
        for (var rank = 0; rank < Keys; rank++)
        {
            total += Math.Pow(rank + 1, -exponent);
            cumulative[rank] = total;
        }

        // The popular keys are not the first ones built (which would also sit together in memory).
        var keyOfRank = new int[Keys];
        for (var i = 0; i < Keys; i++)
        {
            keyOfRank[i] = i;
        }

        for (var i = Keys - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (keyOfRank[i], keyOfRank[j]) = (keyOfRank[j], keyOfRank[i]);
        }

        var sequence = new int[SequenceLength];
        for (var i = 0; i < sequence.Length; i++)
        {
            var rank = Array.BinarySearch(cumulative, random.NextDouble() * total);
            sequence[i] = keyOfRank[Math.Min(rank < 0 ? ~rank : rank, Keys - 1)];
        }

        return sequence;
    }

    /// <summary>How a Bulwark case hands key number <c>key</c> to the engine.</summary>
    private interface IDecider
    {
        ThrottleDecision Decide(ThrottleEngine engine, int key, DateTimeOffset now);
    }

    /// <summary>One <see cref="ThrottleKeys"/> per key, built in the setup (a caller that keeps one per subject).</summary>
    private readonly struct PrebuiltKeys(ThrottleKeys[] keys) : IDecider
    {
        public ThrottleDecision Decide(ThrottleEngine engine, int key, DateTimeOffset now) => engine.Decide(keys[key], 1, now);
    }

    /// <summary>The key's string as a name–value pair on the stack, as the peer is given it (a caller on a request path).</summary>
    private readonly struct KeyPairs(string[] names) : IDecider
    {
        public ThrottleDecision Decide(ThrottleEngine engine, int key, DateTimeOffset now) => engine.Decide([("user", names[key])], 1, now);
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): a small seeded generator, the same on every runtime.</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, 1), 53 bits.</summary>
        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

        /// <summary>Uniform in [0, bound) by multiply-shift (bias below 2^-32).</summary>
        public int Next(int bound) => (int)(((Next() >> 32) * (ulong)bound) >> 32);
    }
}
