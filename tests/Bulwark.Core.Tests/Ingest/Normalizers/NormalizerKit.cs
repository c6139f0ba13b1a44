using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

/// <summary>Runs normalizers the way the server does and checks what every result must satisfy.</summary>
internal static class NormalizerKit
{
    public const string Source = "src-main";

    public static readonly DateTimeOffset ReceivedAt = new(2026, 3, 2, 12, 0, 0, 123, TimeSpan.Zero);

    public static NormalizeResult Run(string normalizer, string body, string? platform = null, JsonObject? mapping = null, string? deliveryId = null) =>
        Run(normalizer, Encoding.UTF8.GetBytes(body), platform, mapping, deliveryId);

    public static NormalizeResult Run(string normalizer, byte[] body, string? platform = null, JsonObject? mapping = null, string? deliveryId = null)
    {
        var sut = Bulwark.Ingest.Normalizers.Find(normalizer).ShouldNotBeNull();
        var result = sut.Normalize(new NormalizeInput(Source, platform, body, "application/json", ReceivedAt, deliveryId, mapping));
        CheckInvariants(result);
        return result;
    }

    /// <summary>Every event valid and lossless on the wire, received at the delivery's time, from this source; faults foreseen.</summary>
    public static void CheckInvariants(NormalizeResult result)
    {
        result.Failure?.ShouldNotStartWith("internal error");
        foreach (var issue in result.Issues)
        {
            issue.Reason.ShouldNotContain("internal error");
            issue.Index.ShouldBeGreaterThanOrEqualTo(0);
        }

        if (result.Failure is not null)
        {
            result.Events.ShouldBeEmpty();
            result.Issues.ShouldBeEmpty();
        }

        foreach (var value in result.Events)
        {
            EventSchema.Validate(value).ShouldBeEmpty();
            value.Source.ShouldBe(Source);
            value.ReceivedAt.ShouldBe(ReceivedAt);
            value.Timestamp.Offset.ShouldBe(TimeSpan.Zero);
            (value.Timestamp.UtcTicks % TimeSpan.TicksPerMillisecond).ShouldBe(0);
            EventJson.TryRead(EventJson.ToUtf8Bytes(value), out var again, out var errors).ShouldBeTrue(string.Join("; ", errors));
            Events.EventJsonTests.AssertSame(value, again);
        }
    }

    public static NormalizedEvent Single(NormalizeResult result)
    {
        result.Failure.ShouldBeNull();
        result.Issues.ShouldBeEmpty();
        return result.Events.ShouldHaveSingleItem();
    }

    public static IReadOnlyList<NormalizedEvent> Clean(NormalizeResult result)
    {
        result.Failure.ShouldBeNull();
        result.Issues.ShouldBeEmpty(string.Join("; ", result.Issues));
        return result.Events;
    }

    public static string Details(NormalizedEvent value) => value.Details?.ToJsonString() ?? "null";

    public static DateTimeOffset Utc(string text) => DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime();
}
