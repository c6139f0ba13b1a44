using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Response;
using Bulwark.Server.Response;
using Bulwark.Server.Tests.Response.Connectors;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Issues;

/// <summary>
/// <c>throttle.tighten</c> in a playbook takes <c>factor</c> as the share of the rates left (0.25: a quarter) and
/// <c>for</c> as its duration, as the action's summary and the demo's reset-wave playbook write it. It handed the factor
/// to the throttle as a divisor, which must be above 1: the tightening was stored, then refused by the engine, and every
/// throttle of the server failed to load after a restart until it lapsed.
/// </summary>
public sealed class PlaybookTightenWithAFactorBelowOneTests : IAsyncLifetime
{
    private readonly TempDirectory _data = new();
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time);
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("/v1/throttles/password-reset", BulwarkTestServer.Json("""{"layers":[{"key":"ip","limit":8,"per":"1m"}]}"""), Ct)).StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _data.Dispose();
    }

    private Task<ActionOutcome> TightenAsync(string with) =>
        _server.Services.GetServices<IActionHandler>().OfType<BuiltInActions>().Single().ExecuteAsync(
            new ActionCall
            {
                RunId = "run_1",
                Playbook = "slow-reset-wave",
                StepId = "tighten",
                Action = "throttle.tighten",
                Target = "inc_01JTAKEOVER",
                IdempotencyKey = "bwk-tighten",
                CorrelationId = "inc_01JTAKEOVER",
                Parameters = JsonNode.Parse(with)!.AsObject(),
                Incident = ConnectorKit.Incident(),
                Timeout = TimeSpan.FromSeconds(5),
            },
            Ct);

    private async Task<long> LimitAsync()
    {
        using var admin = _server.CreateAdminClient();
        using var response = await admin.PostAsync("/v1/throttles/password-reset/check", BulwarkTestServer.Json("""{"keys":{"ip":"198.51.100.7"},"cost":0}"""), Ct);
        return (await Http.ReadJsonAsync(response))["limit"]!.GetValue<long>();
    }

    [Fact]
    public async Task AQuarterForAnHour_DividesTheRatesByFour_LapsesAfterTheHour_AndSurvivesARestart()
    {
        var outcome = await TightenAsync("""{"throttle":"password-reset","factor":0.25,"for":"1h"}""");

        outcome.Succeeded.ShouldBeTrue(outcome.Error);
        (await LimitAsync()).ShouldBe(2);
        await _server.DisposeAsync();
        _server = await BulwarkTestServer.StartAsync(_data.Path, time: _time);
        (await LimitAsync()).ShouldBe(2);
        _time.Advance(TimeSpan.FromHours(1));
        (await LimitAsync()).ShouldBe(8);
    }

    [Theory]
    [InlineData("""{"throttle":"password-reset","factor":1}""")]
    [InlineData("""{"throttle":"password-reset","factor":0.0001}""")]
    [InlineData("""{"throttle":"password-reset","factor":0.5,"for":"8d"}""")]
    public async Task AFactorOrDurationOutOfRange_FailsWithoutStoringAnything(string with)
    {
        var outcome = await TightenAsync(with);

        (outcome.Succeeded, outcome.Failure).ShouldBe((false, RetryOn.None));
        (await _server.Store.GetThrottleAsync("password-reset", Ct))!.Tightening.ShouldBeNull();
        (await LimitAsync()).ShouldBe(8);
    }
}
