using Bulwark.Throttling;

namespace Bulwark.Core.Tests.Throttling;

public sealed class GcraTests
{
    private static readonly long Second = TimeSpan.TicksPerSecond;

    [Fact]
    public void Attempt_MatchesTheRedisCellReadmeExample()
    {
        // CL.THROTTLE user123 15 30 60 → [0, 16, 15, -1, 2]: max_burst 15 is a capacity of 16, 30 per 60 s.
        var interval = Gcra.EmissionInterval(30, TimeSpan.FromSeconds(60));
        var now = 1_000 * Second;

        var result = Gcra.Attempt(long.MinValue, now, interval, burst: 16, cost: 1);

        (result.Allowed, result.Remaining, result.ResetAfter, result.RetryAfter).ShouldBe((true, 15L, 2 * Second, 0L));
        interval.ShouldBe(2 * Second);
    }

    [Fact]
    public void Attempt_AdmitsAFullBurstAtOnce_ThenOneTokenPerInterval_WithAnExactRetryAfter()
    {
        var interval = Gcra.EmissionInterval(60, TimeSpan.FromMinutes(1));
        var now = 5_000 * Second;
        var tat = long.MinValue;
        for (var i = 0; i < 10; i++)
        {
            var admitted = Gcra.Attempt(tat, now, interval, burst: 10, cost: 1);
            admitted.Allowed.ShouldBeTrue($"request {i}");
            admitted.Remaining.ShouldBe(9 - i);
            tat = admitted.Tat;
        }

        var denied = Gcra.Attempt(tat, now, interval, burst: 10, cost: 1);
        (denied.Allowed, denied.Remaining, denied.RetryAfter, denied.Tat).ShouldBe((false, 0L, Second, tat));

        Gcra.Attempt(tat, now + Second - 1, interval, 10, 1).Allowed.ShouldBeFalse();
        Gcra.Attempt(tat, now + Second, interval, 10, 1).Allowed.ShouldBeTrue();
    }

    [Fact]
    public void Attempt_ACostAboveTheBurst_CanNeverSucceed()
    {
        var result = Gcra.Attempt(long.MinValue, 100 * Second, Second, burst: 5, cost: 6);

        (result.Allowed, result.RetryAfter, result.Remaining).ShouldBe((false, -1L, 5L));
    }

    [Fact]
    public void EmissionInterval_RoundsUp_SoTheNominalRateIsNeverExceeded()
    {
        // 3 per second is 3,333,333.33 ticks: rounding down would admit more than 3 a second in the long run.
        Gcra.EmissionInterval(3, TimeSpan.FromSeconds(1)).ShouldBe(3_333_334);
        Gcra.EmissionInterval(100, TimeSpan.FromDays(1)).ShouldBe(TimeSpan.FromDays(1).Ticks / 100);
    }

    /// <summary>
    /// An independent continuous token bucket, in ticks of credit: capacity burst·T, refilled one tick per tick,
    /// admitting cost·T when that much credit is there. GCRA must make exactly the same decisions.
    /// </summary>
    private sealed class ReferenceBucket(long interval, long burst)
    {
        private long _credit = interval * burst;
        private long _last = long.MinValue;

        public bool TryTake(long now, long cost)
        {
            if (_last != long.MinValue)
            {
                _credit = Math.Min(interval * burst, _credit + (now - _last));
            }

            _last = now;
            if (_credit < cost * interval)
            {
                return false;
            }

            _credit -= cost * interval;
            return true;
        }
    }

    [Fact]
    public void Attempt_DecidesExactlyAsAContinuousTokenBucket_AndNeverOverAdmits_OverSeededRandomArrivals()
    {
        var random = new Random(20261121);
        for (var round = 0; round < 200; round++)
        {
            var burst = random.Next(1, 20);
            var interval = random.Next(1, 50) * 1_000L;
            var reference = new ReferenceBucket(interval, burst);
            var now = 1_000_000_000L;
            var tat = long.MinValue;
            var admissions = new List<(long At, long Cost)>();
            for (var i = 0; i < 300; i++)
            {
                now += random.Next(0, 3) == 0 ? 0 : random.Next(0, (int)interval * 2);
                var cost = random.Next(0, 4) == 0 ? random.Next(1, burst + 2) : 1;
                var result = Gcra.Attempt(tat, now, interval, burst, cost);
                result.Allowed.ShouldBe(reference.TryTake(now, cost), $"round {round}, request {i}");
                if (result.Allowed)
                {
                    tat = result.Tat;
                    admissions.Add((now, cost));
                }
            }

            // Over every interval [a, b] between admissions: admitted ≤ burst + (b - a) / T.
            for (var a = 0; a < admissions.Count; a++)
            {
                long admitted = 0;
                for (var b = a; b < admissions.Count; b++)
                {
                    admitted += admissions[b].Cost;
                    admitted.ShouldBeLessThanOrEqualTo(burst + ((admissions[b].At - admissions[a].At) / interval), $"round {round}");
                }
            }
        }
    }
}
