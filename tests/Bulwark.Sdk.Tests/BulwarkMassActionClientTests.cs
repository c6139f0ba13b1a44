using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.MassActions;
using Bulwark.TestUtils;

namespace Bulwark.Sdk.Tests;

public sealed class BulwarkMassActionClientTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _serverClock = new();
    private readonly FakeTimeProvider _sdkClock = new();
    private BulwarkTestServer _server = null!;
    private string _worker = null!;
    private string _responder = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(time: _serverClock);
        _worker = await _server.CreateIdentityTokenAsync("reset-worker", Role.Viewer);
        _responder = await _server.CreateIdentityTokenAsync("carol", Role.Responder);
        using var admin = _server.CreateAdminClient();
        (await admin.PutAsync("/v1/flags/bulk-reset", BulwarkTestServer.Json("""{"type":"kill-switch","owner":"o","purpose":"p"}"""), Ct)).EnsureSuccessStatusCode();
        (await admin.PostAsync("/v1/flags/bulk-reset/state", BulwarkTestServer.Json("""{"state":"GRADUAL","percentage":100}"""), Ct)).EnsureSuccessStatusCode();
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private async Task<string> CreateAsync(string name, long audience, long maxPerMinute = 600_000_000)
    {
        using var admin = _server.CreateAdminClient();
        using var response = await admin.PostAsync(
            "/v1/mass-actions",
            BulwarkTestServer.Json($$"""{"name":"{{name}}","action":"password-reset","flag":"bulk-reset","audience_size":{{audience}},"max_per_minute":{{maxPerMinute}},"workers":["reset-worker"]}"""),
            Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["status"]!["id"]!.GetValue<string>();
    }

    private BulwarkMassActionClient Client(Uri? server = null, string? token = null, HttpMessageHandler? handler = null) => new(new BulwarkClientOptions
    {
        ServerUrl = server ?? _server.BaseAddress,
        Token = token ?? _worker,
        TimeProvider = _sdkClock,
        HttpHandler = handler,
    });

    private async Task<JsonNode> StatusAsync(string id)
    {
        using var admin = _server.CreateAdminClient();
        return JsonNode.Parse(await admin.GetStringAsync($"/v1/mass-actions/{id}", Ct))!["status"]!;
    }

    [Fact]
    public async Task BatchesAsync_HandsOutEachItemOnceInGrantedBatches_ReportsThem_AndTheActionCompletes()
    {
        var id = await CreateAsync("small", audience: 25);
        using var client = Client();
        var seen = new List<int>();
        var sizes = new List<int>();

        await foreach (var batch in client.MassAction(id).BatchesAsync(Enumerable.Range(1, 25), maxBatchSize: 10, cancellationToken: Ct))
        {
            seen.AddRange(batch.Items);
            sizes.Add(batch.Items.Count);
            var failed = batch.Items.Count(i => i % 10 == 0);
            await batch.ReportAsync(batch.Items.Count - failed, failed, failed > 0 ? new Dictionary<string, long> { ["tens"] = failed } : null, Ct);
        }

        seen.ShouldBe(Enumerable.Range(1, 25));
        sizes.ShouldBe([10, 10, 5]);
        var status = await StatusAsync(id);
        (status["state"]!.GetValue<string>(), status["succeeded"]!.GetValue<long>(), status["failed"]!.GetValue<long>(), status["errors"]!["tens"]!.GetValue<long>())
            .ShouldBe(("completed", 23L, 2L, 2L));
    }

    [Fact]
    public async Task BatchesAsync_NothingGranted_WaitsTheServersRetryAfterOnTheOptionsClock()
    {
        // 60 a minute: a burst of 10 (ten seconds' worth), then one a second.
        var id = await CreateAsync("capped", audience: 100, maxPerMinute: 60);
        using var client = Client();
        await using var batches = client.MassAction(id).BatchesAsync(Enumerable.Range(1, 50), Ct).GetAsyncEnumerator(Ct);

        (await batches.MoveNextAsync()).ShouldBeTrue();
        batches.Current.Items.Count.ShouldBe(10);
        await batches.Current.ReportAsync(10, 0, cancellationToken: Ct);
        var next = batches.MoveNextAsync().AsTask();
        await _sdkClock.WaitForScheduledTimerAsync(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        _serverClock.Advance(TimeSpan.FromSeconds(1));
        _sdkClock.Advance(TimeSpan.FromMilliseconds(999));
        _sdkClock.ActiveTimers.ShouldBe(1, "the wait is the server's retry_after_ms, 1,000 ms");
        next.IsCompleted.ShouldBeFalse();
        _sdkClock.Advance(TimeSpan.FromMilliseconds(1));

        (await next.WaitAsync(TimeSpan.FromSeconds(30), Ct)).ShouldBeTrue();
        batches.Current.Items.ShouldBe([11]);
        batches.Current.Permit.LimitedBy.ShouldBe(PermitLimit.Cap);
    }

    [Fact]
    public async Task BatchesAsync_AfterAKill_StopsWithHalted_AndTheKillsReason()
    {
        var id = await CreateAsync("killed", audience: 1_000);
        using var client = Client();
        await using var batches = client.MassAction(id).BatchesAsync(Enumerable.Range(1, 100), maxBatchSize: 10, cancellationToken: Ct).GetAsyncEnumerator(Ct);
        (await batches.MoveNextAsync()).ShouldBeTrue();
        using (var responder = _server.CreateClient(_responder))
        {
            (await responder.PostAsync("/v1/flags/bulk-reset/kill", BulwarkTestServer.Json("""{"reason":"wrong audience"}"""), Ct)).EnsureSuccessStatusCode();
        }

        await batches.Current.ReportAsync(10, 0, cancellationToken: Ct);
        var stopped = await Should.ThrowAsync<MassActionStoppedException>(async () => await batches.MoveNextAsync());

        stopped.Cause.ShouldBe(MassActionStopCause.Halted);
        stopped.Message.ShouldContain("wrong audience");
        (await StatusAsync(id))["granted"]!.GetValue<long>().ShouldBe(10);
    }

    [Fact]
    public async Task BatchesAsync_AgainstAStoppedServer_FailsClosed_WithoutABatch()
    {
        var id = await CreateAsync("orphan", audience: 1_000);
        var address = _server.BaseAddress;
        await _server.DisposeAsync();
        _server = await BulwarkTestServer.StartAsync(time: _serverClock);
        using var client = Client(server: address);
        var batches = 0;

        var stopped = await Should.ThrowAsync<MassActionStoppedException>(async () =>
        {
            await foreach (var batch in client.MassAction(id).BatchesAsync(Enumerable.Range(1, 10), cancellationToken: Ct))
            {
                batches++;
            }
        });

        batches.ShouldBe(0);
        stopped.Cause.ShouldBe(MassActionStopCause.Unreachable);
        stopped.InnerException.ShouldBeOfType<HttpRequestException>();
    }

    [Theory]
    [InlineData(HttpStatusCode.OK, """{"granted": 5}""", MassActionStopCause.Unreachable)]
    [InlineData(HttpStatusCode.OK, "<html>proxy</html>", MassActionStopCause.Unreachable)]
    [InlineData(HttpStatusCode.BadGateway, """{"granted": 5, "state": "running"}""", MassActionStopCause.Unreachable)]
    [InlineData(HttpStatusCode.Forbidden, """{"type":"urn:bulwark:problem:forbidden","detail":"not a worker"}""", MassActionStopCause.Refused)]
    public async Task BatchesAsync_AnAnswerThatIsNotAPermit_FailsClosed(HttpStatusCode status, string body, MassActionStopCause cause)
    {
        using var client = Client(server: new Uri("http://bulwark.invalid"), handler: new Answering(status, body));
        var batches = 0;

        var stopped = await Should.ThrowAsync<MassActionStoppedException>(async () =>
        {
            await foreach (var batch in client.MassAction("ma_0000000000000001").BatchesAsync(Enumerable.Range(1, 10), cancellationToken: Ct))
            {
                batches++;
            }
        });

        (batches, stopped.Cause).ShouldBe((0, cause));
    }

    [Fact]
    public async Task BatchesAsync_ANonWorkerToken_IsRefused()
    {
        var id = await CreateAsync("guarded", audience: 10);
        using var client = Client(token: _responder);

        var stopped = await Should.ThrowAsync<MassActionStoppedException>(async () =>
        {
            await foreach (var batch in client.MassAction(id).BatchesAsync(Enumerable.Range(1, 10), cancellationToken: Ct))
            {
                batch.Items.ShouldBeEmpty("no batch may be handed out");
            }
        });

        stopped.Cause.ShouldBe(MassActionStopCause.Refused);
    }

    [Fact]
    public async Task BatchesAsync_TakingTheNextBatchWithoutReporting_IsAnError()
    {
        var id = await CreateAsync("unreported", audience: 100);
        using var client = Client();
        await using var batches = client.MassAction(id).BatchesAsync(Enumerable.Range(1, 20), maxBatchSize: 10, cancellationToken: Ct).GetAsyncEnumerator(Ct);
        (await batches.MoveNextAsync()).ShouldBeTrue();
        var batch = batches.Current;

        await Should.ThrowAsync<ArgumentException>(() => batch.ReportAsync(3, 3, cancellationToken: Ct));
        await Should.ThrowAsync<InvalidOperationException>(async () => await batches.MoveNextAsync());
        (await StatusAsync(id))["granted"]!.GetValue<long>().ShouldBe(10, "no second permit was asked for");
    }

    [Fact]
    public async Task ReportAsync_RetriedWithTheSameKey_IsCountedOnce()
    {
        var id = await CreateAsync("retried", audience: 100);
        using var client = Client();
        var handle = client.MassAction(id);
        (await handle.RequestPermitAsync(10, Ct)).Granted.ShouldBe(10);

        await handle.ReportAsync(4, 1, idempotencyKey: "batch-1", cancellationToken: Ct);
        await handle.ReportAsync(4, 1, idempotencyKey: "batch-1", cancellationToken: Ct);

        var status = await StatusAsync(id);
        (status["succeeded"]!.GetValue<long>(), status["failed"]!.GetValue<long>()).ShouldBe((4L, 1L));
    }

    private sealed class Answering(HttpStatusCode status, string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
    }
}
