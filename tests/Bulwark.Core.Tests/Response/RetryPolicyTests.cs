using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class RetryPolicyTests
{
    private static readonly RetryPolicy Sut = new(5, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(3), RetryOn.Timeout | RetryOn.ServerError);

    [Fact]
    public void BackoffCeiling_DoublesFromInitial_AndIsCappedAtMax()
    {
        Enumerable.Range(1, 6).Select(Sut.BackoffCeiling).ShouldBe(
            [TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3)]);
        Sut.BackoffCeiling(10_000).ShouldBe(Sut.Max);
    }

    [Fact]
    public void DelayBeforeRetry_IsAFullJitterDrawBelowTheCeiling()
    {
        var random = new Random(1234);
        var draws = new Random(1234);

        for (var retry = 1; retry <= 6; retry++)
        {
            var delay = Sut.DelayBeforeRetry(retry, random);

            delay.ShouldBeInRange(TimeSpan.Zero, Sut.BackoffCeiling(retry));
            delay.Ticks.ShouldBe((long)(draws.NextDouble() * Sut.BackoffCeiling(retry).Ticks));
        }
    }

    [Fact]
    public void DelayBeforeRetry_SpreadsOverTheWholeRange()
    {
        // Full jitter: over many draws the delays cover [0, ceiling) rather than clustering at the ceiling.
        var random = new Random(42);
        var delays = Enumerable.Range(0, 2000).Select(_ => Sut.DelayBeforeRetry(3, random).TotalMilliseconds).ToList();

        delays.ShouldAllBe(d => d >= 0 && d < 2000);
        delays.Count(d => d < 500).ShouldBeInRange(400, 600);
        delays.Count(d => d >= 1500).ShouldBeInRange(400, 600);
    }

    [Fact]
    public void DelayBeforeRetry_HonoursRetryAfter_CappedAtMax()
    {
        var random = new Random(7);

        Sut.DelayBeforeRetry(1, random, TimeSpan.FromSeconds(2)).ShouldBe(TimeSpan.FromSeconds(2));
        Sut.DelayBeforeRetry(1, random, TimeSpan.FromMinutes(5)).ShouldBe(Sut.Max);
        Sut.DelayBeforeRetry(4, random, TimeSpan.Zero).ShouldBe(TimeSpan.Zero);
        Sut.DelayBeforeRetry(4, random, TimeSpan.FromSeconds(-1)).ShouldBe(TimeSpan.Zero);
    }

    [Fact]
    public void ShouldRetry_OnlyTheNamedFailures_WhileRetriesAreLeft()
    {
        Sut.ShouldRetry(RetryOn.Timeout, 1).ShouldBeTrue();
        Sut.ShouldRetry(RetryOn.ServerError, 5).ShouldBeTrue();
        Sut.ShouldRetry(RetryOn.ServerError, 6).ShouldBeFalse();
        Sut.ShouldRetry(RetryOn.TooManyRequests, 1).ShouldBeFalse();
        Sut.ShouldRetry(RetryOn.None, 1).ShouldBeFalse();
        (Sut with { Count = 0 }).ShouldRetry(RetryOn.Timeout, 1).ShouldBeFalse();
        RetryPolicy.Default.ShouldRetry(RetryOn.TooManyRequests, 3).ShouldBeTrue();
        RetryPolicy.Default.ShouldRetry(RetryOn.TooManyRequests, 4).ShouldBeFalse();
    }

    [Fact]
    public void Arguments_OutOfRange_Throw()
    {
        Should.Throw<ArgumentOutOfRangeException>(() => Sut.ShouldRetry(RetryOn.Timeout, 0));
        Should.Throw<ArgumentOutOfRangeException>(() => Sut.DelayBeforeRetry(0, new Random(1)));
        Should.Throw<ArgumentNullException>(() => Sut.DelayBeforeRetry(1, null!));
    }
}
