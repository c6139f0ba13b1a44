using System.Net;
using Bulwark.TestUtils;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Bulwark.Server.Tests;

/// <summary>A second request with a key whose first request is still running gets 409, then the replay once it is done.</summary>
public sealed class IdempotencyInProgressTests : IAsyncLifetime
{
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _runs;
    private BulwarkTestServer _server = null!;

    public async ValueTask InitializeAsync() =>
        _server = await BulwarkTestServer.StartAsync(mapExtraEndpoints: app => app.MapPost("/test/slow", async () =>
        {
            Interlocked.Increment(ref _runs);
            _entered.TrySetResult();
            await _release.Task;
            return Results.Ok(new { done = true });
        }));

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task SameKeyWhileTheFirstRuns_Is409ThenTheFirstAnswerIsReplayed()
    {
        var ct = TestContext.Current.CancellationToken;
        using var admin = _server.CreateAdminClient();
        var first = SendAsync(admin, ct);
        await _entered.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);

        using (var second = await SendAsync(admin, ct))
        {
            await Http.ReadProblemAsync(second, HttpStatusCode.Conflict, "idempotency-in-progress");
        }

        _release.SetResult();
        using var answered = await first;
        answered.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var third = await SendAsync(admin, ct);
        third.Headers.GetValues("Idempotent-Replayed").ShouldBe(["true"]);
        _runs.ShouldBe(1);
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, CancellationToken ct)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/test/slow") { Content = BulwarkTestServer.Json("{}") };
        request.Headers.Add("Idempotency-Key", "slow-1");
        return client.SendAsync(request, ct);
    }
}
