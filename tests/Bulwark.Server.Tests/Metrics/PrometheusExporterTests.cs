using System.Diagnostics.Metrics;
using Bulwark.Server.Metrics;

namespace Bulwark.Server.Tests.Metrics;

public sealed class PrometheusExporterTests
{
    [Fact]
    public void Counter_SameTagsInAnyOrder_AddUpInOneSeries_OtherValuesGetTheirOwn()
    {
        using var meter = new Meter("test.exporter." + Guid.NewGuid().ToString("N"));
        using var exporter = new PrometheusExporter(meter);
        var counter = meter.CreateCounter<long>("test.deliveries", "{delivery}", "Deliveries");

        counter.Add(1, new("source", "okta"), new("outcome", "accepted"));
        counter.Add(2, new("outcome", "accepted"), new("source", "okta"));
        counter.Add(4, new("source", "okta"), new("outcome", "duplicate"));
        counter.Add(8, new("source", "x\"y"), new("outcome", "accepted"));
        counter.Add(16, new KeyValuePair<string, object?>("status", 200));
        counter.Add(32, new KeyValuePair<string, object?>("status", 200));
        counter.Add(64, new KeyValuePair<string, object?>("status", 404));

        var lines = exporter.Render().Split('\n').Where(l => l.StartsWith("test_deliveries_total", StringComparison.Ordinal)).ToList();

        lines.ShouldBe(
            [
                """test_deliveries_total{outcome="accepted",source="okta"} 3""",
                """test_deliveries_total{outcome="accepted",source="x\"y"} 8""",
                """test_deliveries_total{outcome="duplicate",source="okta"} 4""",
                """test_deliveries_total{status="200"} 48""",
                """test_deliveries_total{status="404"} 64""",
            ],
            ignoreOrder: true);
    }
}
