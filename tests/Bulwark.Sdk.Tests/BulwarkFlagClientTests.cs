using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.TestUtils;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Bulwark.Sdk.Tests;

public sealed class BulwarkFlagClientTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _data = new();
    private readonly TempDirectory _files = new();
    private BulwarkTestServer _server = null!;
    private string _sdkToken = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await BulwarkTestServer.StartAsync(_data.Path);
        _sdkToken = await _server.CreateIdentityTokenAsync("sdk", Role.Viewer);
        using var admin = _server.CreateAdminClient();
        foreach (var (key, type) in new[] { ("reset-v2", "operational"), ("bulk-reset", "kill-switch") })
        {
            (await admin.PutAsync($"/v1/flags/{key}", BulwarkTestServer.Json($$"""{"type":"{{type}}","owner":"o","purpose":"p","cohorts":[{"name":"staff","allow":["u-staff"]}]}"""), Ct)).EnsureSuccessStatusCode();
            (await admin.PostAsync($"/v1/flags/{key}/state", BulwarkTestServer.Json("""{"state":"GRADUAL","percentage":100}"""), Ct)).EnsureSuccessStatusCode();
        }
    }

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    public void Dispose()
    {
        _data.Dispose();
        _files.Dispose();
    }

    private BulwarkFlagClient Client(TimeProvider? time = null, Uri? server = null, string? snapshotFile = null) => new(new BulwarkClientOptions
    {
        ServerUrl = server ?? _server.BaseAddress,
        Token = _sdkToken,
        TimeProvider = time ?? TimeProvider.System,
        MinReconnectDelay = TimeSpan.FromMilliseconds(50),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(200),
        SnapshotFile = snapshotFile,
        Jitter = () => 0.5,
    });

    private static readonly EvaluationContext User = new("u-1");

    private static async Task<FlagsChangedEventArgs> NextChangeAsync(BulwarkFlagClient client, string key, Func<Task> cause)
    {
        var seen = new TaskCompletionSource<FlagsChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(object? sender, FlagsChangedEventArgs e)
        {
            if (e.Keys.Contains(key))
            {
                seen.TrySetResult(e);
            }
        }

        client.Changed += OnChanged;
        try
        {
            await cause();
            return await seen.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        }
        finally
        {
            client.Changed -= OnChanged;
        }
    }

    [Fact]
    public async Task Client_EvaluatesLocallyLikeTheServer_AndAKillArrivesOverTheStream()
    {
        await using var client = Client();
        await client.StartAsync(Ct);
        await client.WaitUntilReadyAsync(Ct);

        client.Status.ShouldBe(ClientStatus.Ready);
        client.GetBoolean("reset-v2", User, defaultValue: false).ShouldBeTrue();
        client.Evaluate("reset-v2", new EvaluationContext("u-staff")).Cohort.ShouldBe("staff");
        client.Evaluate("missing", User).ErrorCode.ShouldBe(EvaluationErrorCode.FlagNotFound);

        var change = await NextChangeAsync(client, "reset-v2", async () =>
        {
            using var admin = _server.CreateAdminClient();
            (await admin.PostAsync("/v1/flags/reset-v2/kill", BulwarkTestServer.Json("""{"reason":"surge"}"""), Ct)).EnsureSuccessStatusCode();
        });

        change.Version.ShouldBe(client.Version);
        client.GetBoolean("reset-v2", new EvaluationContext("u-staff"), defaultValue: true).ShouldBeFalse();
        client.Evaluate("reset-v2", User).Reason.ShouldBe(EvaluationReason.Disabled);
    }

    [Fact]
    public async Task ServerRestart_TheClientReconnectsResumesAndConverges()
    {
        await using var client = Client();
        await client.StartAsync(Ct);
        await client.WaitUntilReadyAsync(Ct);
        var address = _server.BaseAddress;
        await _server.DisposeAsync();

        var change = await NextChangeAsync(client, "bulk-reset", async () =>
        {
            _server = await BulwarkTestServer.StartAsync(_data.Path, urls: address.ToString().TrimEnd('/'));
            using var admin = _server.CreateAdminClient();
            (await admin.PostAsync("/v1/flags/bulk-reset/kill", BulwarkTestServer.Json("""{"reason":"after restart"}"""), Ct)).EnsureSuccessStatusCode();
        });

        client.Evaluate("bulk-reset", User).Reason.ShouldBe(EvaluationReason.Disabled);
        client.Status.ShouldBe(ClientStatus.Ready);
        change.Keys.ShouldContain("bulk-reset");
    }

    [Fact]
    public async Task StreamCutLongerThanMaxStaleness_ClosedFlagsEvaluateOff_LastKnownFlagsKeepTheirValue()
    {
        var time = new FakeTimeProvider();
        await using var client = Client(time);
        await client.StartAsync(Ct);
        await client.WaitUntilReadyAsync(Ct);
        client.GetBoolean("bulk-reset", User, false).ShouldBeTrue();
        await _server.DisposeAsync();

        time.Advance(TimeSpan.FromSeconds(29));
        client.Status.ShouldBe(ClientStatus.Ready);
        time.Advance(TimeSpan.FromSeconds(2));

        client.Status.ShouldBe(ClientStatus.Stale);
        var killSwitch = client.Evaluate("bulk-reset", User);
        (killSwitch.Variant!.Name, killSwitch.Reason).ShouldBe(("off", EvaluationReason.Stale));
        client.GetBoolean("reset-v2", User, false).ShouldBeTrue();
        _server = await BulwarkTestServer.StartAsync(_data.Path);
    }

    [Fact]
    public async Task SavedSnapshot_StartsAClientWithoutTheServer_AsStaleSoClosedFlagsStayOff()
    {
        var file = _files.Combine("flags.json");
        await using (var first = Client(snapshotFile: file))
        {
            await first.StartAsync(Ct);
            await first.WaitUntilReadyAsync(Ct);
        }

        File.Exists(file).ShouldBeTrue();
        await using var offline = Client(server: new Uri("http://127.0.0.1:1/"), snapshotFile: file);
        await offline.StartAsync(Ct);

        offline.Status.ShouldBe(ClientStatus.Stale);
        offline.GetBoolean("reset-v2", User, false).ShouldBeTrue();
        offline.Evaluate("bulk-reset", User).Reason.ShouldBe(EvaluationReason.Stale);
    }

    [Fact]
    public async Task NotStarted_AnswersTheCallersDefaultAsNotReady()
    {
        await using var client = Client(server: new Uri("http://127.0.0.1:1/"));

        client.Status.ShouldBe(ClientStatus.NotReady);
        client.Evaluate("reset-v2", User).ErrorCode.ShouldBe(EvaluationErrorCode.ProviderNotReady);
        client.GetBoolean("reset-v2", User, defaultValue: true).ShouldBeTrue();
    }

    [Fact]
    public async Task AddBulwarkClient_StartsTheClientWithTheHost()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddBulwarkClient(o =>
        {
            o.ServerUrl = _server.BaseAddress;
            o.Token = _sdkToken;
        });
        using var host = builder.Build();
        await host.StartAsync(Ct);
        var client = host.Services.GetRequiredService<BulwarkFlagClient>();

        await client.WaitUntilReadyAsync(Ct);
        client.GetBoolean("reset-v2", User, false).ShouldBeTrue();
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Evaluate_AllocatesNothing()
    {
        await using var client = Client();
        await client.StartAsync(Ct);
        await client.WaitUntilReadyAsync(Ct);
        client.Evaluate("reset-v2", User);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var on = 0;
        for (var i = 0; i < 10_000; i++)
        {
            on += client.Evaluate("reset-v2", User).Variant?.AsBoolean == true ? 1 : 0;
        }

        (GC.GetAllocatedBytesForCurrentThread() - before).ShouldBe(0);
        on.ShouldBe(10_000);
    }

    [Fact]
    public async Task AMalformedStreamEvent_DropsTheStreamNotTheClient_ItResynchronizesAndReconnects()
    {
        // A server that answers the snapshot properly but sends an event missing every field the client needs.
        var streams = 0;
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapGet("/v1/flags/snapshot", () => Results.Text(
            """{"version":3,"flags":[{"key":"bulk-reset","type":"kill-switch","owner":"o","purpose":"p","status":{"state":"GLOBAL","percentage":100,"archived":false,"version":3,"updated_at":"2026-11-21T09:00:00.000Z"}}]}""",
            "application/json"));
        app.MapGet("/v1/stream", async (HttpContext context) =>
        {
            if (Interlocked.Increment(ref streams) == 2)
            {
                reconnected.TrySetResult();
            }

            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("event: flag\ndata: {\"version\":9}\n\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
        });
        await app.StartAsync(Ct);
        await using var client = Client(server: new Uri(app.Urls.First()));

        await client.StartAsync(Ct);
        await client.WaitUntilReadyAsync(Ct);
        await reconnected.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        client.Version.ShouldBe(3);
        client.GetBoolean("bulk-reset", User, defaultValue: false).ShouldBeTrue();
        client.Status.ShouldBe(ClientStatus.Ready);
    }
}
