using System.Net;
using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests;

public sealed class FlagStreamTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private BulwarkTestServer _server = null!;
    private string _operator = null!;
    private string _responder = null!;
    private string _viewer = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(time: _time);
        _operator = await _server.CreateIdentityTokenAsync("ops", Role.Operator);
        _responder = await _server.CreateIdentityTokenAsync("oncall", Role.Responder);
        _viewer = await _server.CreateIdentityTokenAsync("sdk", Role.Viewer);
        using var ops = _server.CreateClient(_operator);
        foreach (var key in new[] { "a", "b", "c" })
        {
            (await ops.PutAsync($"/v1/flags/{key}", BulwarkTestServer.Json("""{"type":"operational","owner":"o","purpose":"p"}"""))).EnsureSuccessStatusCode();
        }
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<(HttpClient Client, HttpResponseMessage Response, SseReader Reader)> ConnectAsync(string? lastEventId = null)
    {
        var client = _server.CreateClient(_viewer);
        client.Timeout = Timeout.InfiniteTimeSpan;
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        return (client, response, new SseReader(await response.Content.ReadAsStreamAsync(Ct)));
    }

    private static (long Id, string Key, string State) Parse(SseMessage message)
    {
        message.Event.ShouldBe("flag");
        var data = JsonNode.Parse(message.Data!)!;
        long.Parse(message.Id!, System.Globalization.CultureInfo.InvariantCulture).ShouldBe(data["version"]!.GetValue<long>());
        return (data["version"]!.GetValue<long>(), data["key"]!.GetValue<string>(), data["status"]!["state"]!.GetValue<string>());
    }

    [Fact]
    public async Task NewSubscriber_GetsEveryFlag_ThenEachChangeAsItLands()
    {
        var (client, response, reader) = await ConnectAsync();
        using (client)
        using (response)
        using (reader)
        {
            var initial = new[] { Parse(await reader.ReadEventAsync(Ct)), Parse(await reader.ReadEventAsync(Ct)), Parse(await reader.ReadEventAsync(Ct)) };
            initial.Select(e => e.Key).ShouldBe(["a", "b", "c"]);
            initial.Select(e => e.Id).ShouldBe([1L, 2L, 3L]);

            using var oncall = _server.CreateClient(_responder);
            (await oncall.PostAsync("/v1/flags/b/kill", BulwarkTestServer.Json("""{"reason":"surge"}"""), Ct)).EnsureSuccessStatusCode();

            Parse(await reader.ReadEventAsync(Ct)).ShouldBe((4L, "b", "EMERGENCY_OFF"));
        }
    }

    [Fact]
    public async Task Resume_WithLastEventId_DeliversEveryFlagChangedSinceAndNothingElse()
    {
        string last;
        var (client, response, reader) = await ConnectAsync();
        using (client)
        using (response)
        using (reader)
        {
            await reader.ReadEventAsync(Ct);
            await reader.ReadEventAsync(Ct);
            last = (await reader.ReadEventAsync(Ct)).Id!;
        }

        using var ops = _server.CreateClient(_operator);
        (await ops.PostAsync("/v1/flags/a/state", BulwarkTestServer.Json("""{"state":"GRADUAL","percentage":10}"""), Ct)).EnsureSuccessStatusCode();
        (await ops.PostAsync("/v1/flags/a/state", BulwarkTestServer.Json("""{"state":"GRADUAL","percentage":20}"""), Ct)).EnsureSuccessStatusCode();
        (await ops.PostAsync("/v1/flags/c/state", BulwarkTestServer.Json("""{"state":"CANARY","percentage":1}"""), Ct)).EnsureSuccessStatusCode();

        var (client2, response2, reader2) = await ConnectAsync(last);
        using (client2)
        using (response2)
        using (reader2)
        {
            var first = Parse(await reader2.ReadEventAsync(Ct));
            var second = Parse(await reader2.ReadEventAsync(Ct));
            (first.Key, first.State, second.Key, second.State).ShouldBe(("a", "GRADUAL", "c", "CANARY"));
            (first.Id, second.Id).ShouldBe((5L, 6L));

            (await ops.PostAsync("/v1/flags/b/state", BulwarkTestServer.Json("""{"state":"CANARY","percentage":0.5}"""), Ct)).EnsureSuccessStatusCode();
            Parse(await reader2.ReadEventAsync(Ct)).ShouldBe((7L, "b", "CANARY"));
        }
    }

    [Fact]
    public async Task IdleStream_SendsHeartbeatsDrivenByTheClock()
    {
        var (client, response, reader) = await ConnectAsync("3");
        using (client)
        using (response)
        using (reader)
        {
            (await reader.ReadAsync(Ct)).Comment.ShouldBe("connected");
            await _time.WaitForScheduledTimerAsync(Ct);
            var next = reader.ReadAsync(Ct);
            _time.Advance(TimeSpan.FromSeconds(15));

            (await next).Comment.ShouldBe("heartbeat");

            // Periodic: the next one needs the next 15 seconds, not another wake-up.
            next = reader.ReadAsync(Ct);
            _time.Advance(TimeSpan.FromSeconds(14));
            next.IsCompleted.ShouldBeFalse();
            _time.Advance(TimeSpan.FromSeconds(1));
            (await next).Comment.ShouldBe("heartbeat");
        }
    }

    [Fact]
    public async Task EachSubscriber_HoldsOneTimer_WhateverTheNumberOfChanges_AndReleasesItWhenItGoes()
    {
        var before = _time.ActiveTimers;
        var (client, response, reader) = await ConnectAsync("3");
        using (client)
        using (response)
        using (reader)
        {
            (await reader.ReadAsync(Ct)).Comment.ShouldBe("connected");
            await _time.WaitForActiveTimersAsync(before + 1, Ct);
            using var ops = _server.CreateClient(_operator);
            for (var i = 0; i < 5; i++)
            {
                (await ops.PostAsync("/v1/flags/a/state", BulwarkTestServer.Json($$"""{"state":"GRADUAL","percentage":{{i + 1}}}"""), Ct)).EnsureSuccessStatusCode();
                Parse(await reader.ReadEventAsync(Ct)).Key.ShouldBe("a");
            }

            _time.ActiveTimers.ShouldBe(before + 1);
        }

        await _time.WaitForActiveTimersAsync(before, Ct);
    }

    [Fact]
    public async Task StatusOnlyChange_IsACompactEventForSubscribersThatHoldTheDefinition_AndFullForOthers()
    {
        var (client, response, reader) = await ConnectAsync("3");
        using (client)
        using (response)
        using (reader)
        {
            using var oncall = _server.CreateClient(_responder);
            (await oncall.PostAsync("/v1/flags/a/kill", BulwarkTestServer.Json("""{"reason":"surge"}"""), Ct)).EnsureSuccessStatusCode();
            var compact = JsonNode.Parse((await reader.ReadEventAsync(Ct)).Data!)!.AsObject();
            compact.ContainsKey("flag").ShouldBeFalse();
            (compact["key"]!.GetValue<string>(), compact["status"]!["state"]!.GetValue<string>()).ShouldBe(("a", "EMERGENCY_OFF"));
            compact["definition_hash"]!.GetValue<string>().Length.ShouldBe(32);

            using var ops = _server.CreateClient(_operator);
            (await ops.PutAsync("/v1/flags/b", BulwarkTestServer.Json("""{"type":"operational","owner":"o","purpose":"changed"}"""), Ct)).EnsureSuccessStatusCode();
            var full = JsonNode.Parse((await reader.ReadEventAsync(Ct)).Data!)!;
            full["flag"]!["purpose"]!.GetValue<string>().ShouldBe("changed");
        }

        var (fresh, freshResponse, freshReader) = await ConnectAsync("0");
        using (fresh)
        using (freshResponse)
        using (freshReader)
        {
            var first = JsonNode.Parse((await freshReader.ReadEventAsync(Ct)).Data!)!;
            first["flag"].ShouldNotBeNull("a subscriber that never saw the flag gets the whole document");
        }
    }
}
