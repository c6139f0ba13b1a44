using Bulwark.Identity;
using Bulwark.TestUtils;
using Bulwark.Throttling;

namespace Bulwark.Sdk.Tests;

public sealed class BulwarkThrottleClientTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;
    private string _token = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(time: _time);
        _token = await _server.CreateIdentityTokenAsync("app", Role.Viewer);
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("/v1/throttles/signup", BulwarkTestServer.Json("""{"layers":[{"key":"ip","limit":2,"per":"1m"}]}"""), Ct)).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private BulwarkThrottleClient Client(ThrottleFailMode unknown = ThrottleFailMode.Open) =>
        new(new BulwarkClientOptions { ServerUrl = _server.BaseAddress, Token = _token, TimeProvider = _time }) { UnknownThrottleFailMode = unknown };

    private static readonly ThrottleKeys Ip = new(new Dictionary<string, string> { ["ip"] = "198.51.100.7" });

    [Fact]
    public async Task Decide_UsesTheSyncedPolicy_AndUnchangedPoliciesKeepTheirBucketsAcrossSyncs()
    {
        await using var client = Client();
        await client.StartAsync(Ct);

        client.Decide("signup", Ip).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        await client.SyncAsync(Ct);
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("/v1/throttles/other", BulwarkTestServer.Json("""{"layers":[{"key":"ip","limit":1,"per":"1m"}]}"""), Ct)).EnsureSuccessStatusCode();
        await client.SyncAsync(Ct);

        client.Version.ShouldBe(2);
        client.PolicyOf("other").ShouldNotBeNull();
        client.Decide("signup", Ip).Kind.ShouldBe(ThrottleDecisionKind.Allow);
        client.Decide("signup", Ip).Kind.ShouldBe(ThrottleDecisionKind.Block);
    }

    [Theory]
    [InlineData(ThrottleFailMode.Open, ThrottleDecisionKind.Allow)]
    [InlineData(ThrottleFailMode.Closed, ThrottleDecisionKind.Block)]
    public async Task AThrottleNeverSynced_IsDecidedByUnknownThrottleFailMode(ThrottleFailMode mode, ThrottleDecisionKind expected)
    {
        await using var client = Client(mode);
        await client.StartAsync(Ct);

        var local = client.Decide("missing", Ip);
        var remote = await client.CheckAsync("missing", Ip, cancellationToken: Ct);

        (local.Kind, local.Reason).ShouldBe((expected, ThrottleReason.Unavailable));
        (remote.Kind, remote.Reason).ShouldBe((expected, ThrottleReason.Unavailable));
    }

    [Fact]
    public async Task CheckAsync_ReadsTheServersDecision_BlockIncluded()
    {
        await using var client = Client();

        (await client.CheckAsync("signup", Ip, 2, Ct)).Remaining.ShouldBe(0);
        var blocked = await client.CheckAsync("signup", Ip, cancellationToken: Ct);

        (blocked.Kind, blocked.Reason, blocked.Layer, blocked.RetryAfter).ShouldBe((ThrottleDecisionKind.Block, ThrottleReason.RateExceeded, "ip", (TimeSpan?)TimeSpan.FromSeconds(30)));
        blocked.Window.ShouldBe(TimeSpan.FromMinutes(1));
    }
}
