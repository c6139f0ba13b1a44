using Bulwark.Response;
using Bulwark.Server.Response;
using Bulwark.Server.Response.Connectors;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary>The per-connector circuit breaker, on a fake clock, in front of a loopback platform API.</summary>
public sealed class ConnectorBreakerTests : IAsyncLifetime
{
    private const string Token = "plat-token-breaker";
    private static readonly TimeSpan OpenFor = TimeSpan.FromSeconds(30);

    private readonly ConnectorKit _kit = new();
    private FakePlatformApi _platform = null!;

    public async ValueTask InitializeAsync() => _platform = await FakePlatformApi.StartAsync(Token);

    public async ValueTask DisposeAsync()
    {
        await _platform.DisposeAsync();
        await _kit.DisposeAsync();
    }

    [Fact]
    public async Task ConsecutiveServerErrors_OpenTheBreaker_ThenCallsFailAtOnceWithoutReachingTheService()
    {
        var connector = Platform("flaky", failures: 3);
        _platform.FailNext(3, 503);
        for (var i = 0; i < 3; i++)
        {
            (await Revoke(connector)).HttpStatus.ShouldBe(503);
        }

        var refused = await Revoke(connector);

        refused.Succeeded.ShouldBeFalse();
        refused.Failure.ShouldBe(RetryOn.ServerError);
        refused.HttpStatus.ShouldBeNull();
        refused.Error.ShouldNotBeNull().ShouldContain("circuit open");
        refused.RetryAfter.ShouldBe(OpenFor);
        _platform.Requests.Count.ShouldBe(3);
        _kit.Breakers.State("flaky").ShouldBe(BreakerState.Open);
    }

    [Fact]
    public async Task AfterTheOpenPeriod_OneTrialGoesThrough_AndItsSuccessClosesTheBreaker()
    {
        var connector = await OpenedAsync("recovering");
        _kit.Time.Advance(OpenFor);

        var trial = await Revoke(connector);
        var next = await Revoke(connector);

        trial.Succeeded.ShouldBeTrue(trial.Error);
        next.Succeeded.ShouldBeTrue(next.Error);
        _kit.Breakers.State("recovering").ShouldBe(BreakerState.Closed);
        _platform.Requests.Count.ShouldBe(5);
    }

    [Fact]
    public async Task FailedTrial_OpensTheBreakerForAnotherPeriod()
    {
        var connector = await OpenedAsync("still-down");
        _kit.Time.Advance(OpenFor);
        _platform.FailNext(1, 500);

        var trial = await Revoke(connector);
        var refused = await Revoke(connector);

        trial.HttpStatus.ShouldBe(500);
        refused.Error.ShouldNotBeNull().ShouldContain("circuit open");
        refused.RetryAfter.ShouldBe(OpenFor);
        _platform.Requests.Count.ShouldBe(4);
    }

    [Fact]
    public async Task WhileTheTrialIsInFlight_OtherCallsAreRefused_AndATimedOutTrialReopens()
    {
        var connector = await OpenedAsync("slow-trial", timeout: TimeSpan.FromSeconds(2));
        _kit.Time.Advance(OpenFor);
        _platform.StallNext(1);

        var trial = Revoke(connector);
        await _platform.WaitForRequestsAsync(4, ConnectorKit.Ct);
        var meanwhile = await Revoke(connector);
        _kit.Breakers.State("slow-trial").ShouldBe(BreakerState.HalfOpen);
        _kit.Time.Advance(TimeSpan.FromSeconds(2));
        var timedOut = await trial;

        meanwhile.Error.ShouldNotBeNull().ShouldContain("trial call is in flight");
        timedOut.Failure.ShouldBe(RetryOn.Timeout);
        _kit.Breakers.State("slow-trial").ShouldBe(BreakerState.Open);
        _platform.Requests.Count.ShouldBe(4);
    }

    [Fact]
    public async Task ClientErrors_ProveTheServiceUp_AndNeverOpenTheBreaker()
    {
        var connector = Platform("strict", failures: 2);
        _platform.FailNext(5, 400, body: "bad request");

        var outcomes = new List<ActionOutcome>();
        for (var i = 0; i < 5; i++)
        {
            outcomes.Add(await Revoke(connector));
        }

        outcomes.ShouldAllBe(o => o.HttpStatus == 400 && o.Failure == RetryOn.None);
        _platform.Requests.Count.ShouldBe(5);
        _kit.Breakers.State("strict").ShouldBe(BreakerState.Closed);
    }

    [Fact]
    public async Task ASuccess_ResetsTheCount()
    {
        var connector = Platform("intermittent", failures: 2);
        _platform.FailNext(1, 503);
        await Revoke(connector);
        await Revoke(connector);
        _platform.FailNext(1, 503);

        await Revoke(connector);

        _kit.Breakers.State("intermittent").ShouldBe(BreakerState.Closed);
        (await Revoke(connector)).Succeeded.ShouldBeTrue();
    }

    [Fact]
    public async Task Breakers_ArePerConnector()
    {
        var broken = await OpenedAsync("broken");
        var healthy = Platform("healthy", failures: 3);

        (await Revoke(broken)).Error.ShouldNotBeNull().ShouldContain("circuit open");
        (await Revoke(healthy)).Succeeded.ShouldBeTrue();
    }

    private async Task<ConnectorDefinition> OpenedAsync(string name, TimeSpan? timeout = null)
    {
        var connector = Platform(name, failures: 3, timeout);
        _platform.FailNext(3, 503);
        for (var i = 0; i < 3; i++)
        {
            await Revoke(connector);
        }

        _kit.Breakers.State(name).ShouldBe(BreakerState.Open);
        return connector;
    }

    private Task<ActionOutcome> Revoke(ConnectorDefinition connector) => _kit.ExecuteAsync(_kit.Call(PlatformActionHandler.RevokeTokens, connector));

    private ConnectorDefinition Platform(string name, int failures, TimeSpan? timeout = null) =>
        _kit.Connector(name, ConnectorType.Platform, _platform.BaseAddress, Token, c => c with
        {
            BreakerFailures = failures,
            BreakerOpenFor = OpenFor,
            Timeout = timeout ?? c.Timeout,
        });
}
