using System.Globalization;
using System.Net;
using Bulwark.Ingest;
using Bulwark.Response;
using Bulwark.Server.Detection;
using Bulwark.Server.Ingest;
using Bulwark.Server.Response;
using Bulwark.Server.Tests.Ingest;
using Bulwark.TestUtils;
using Bulwark.TestUtils.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Response;

/// <summary>
/// A server (optionally on a fake clock) with test secrets and a fake platform API behind a <c>platform</c> connector,
/// and the usual way to start a run: a count rule of a chosen confidence, a playbook, and three resets from one IP.
/// </summary>
internal sealed class ResponseServer : IAsyncDisposable
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _data;

    private ResponseServer(TempDirectory data, BulwarkTestServer server, FakePlatformApi platform, TestSecrets secrets)
    {
        _data = data;
        Server = server;
        Platform = platform;
        Secrets = secrets;
    }

    public BulwarkTestServer Server { get; }

    public FakePlatformApi Platform { get; }

    public TestSecrets Secrets { get; }

    public RunExecutor Executor => Server.Services.GetRequiredService<RunExecutor>();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<ResponseServer> StartAsync(TimeProvider? time = null)
    {
        var data = new TempDirectory();
        var secrets = new TestSecrets();
        var platform = await FakePlatformApi.StartAsync();
        secrets["PLATFORM_TOKEN"] = platform.Token;
        var server = await BulwarkTestServer.StartAsync(data.Path, time: time, services: s => s.AddSingleton<ISecretResolver>(secrets));
        return new ResponseServer(data, server, platform, secrets);
    }

    /// <summary>PUTs a manifest and expects it created.</summary>
    public async Task PutAsync(string path, string body)
    {
        using var admin = Server.CreateAdminClient();
        using var response = await admin.PutAsync(path, BulwarkTestServer.Json(body), Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>
    /// The rule <c>resets-per-ip</c> (three resets from one IP in a minute) at <paramref name="confidence"/>, the
    /// <c>platform</c> connector (with <paramref name="connectorFields"/> added), the playbook <c>contain</c>; then three
    /// resets of <paramref name="accounts"/> (round robin) make one incident, whose run is returned as stored.
    /// </summary>
    public async Task<StoredRun> IncidentAsync(double confidence, string playbook, IReadOnlyList<string> accounts, string connectorFields = "")
    {
        await PutAsync("v1/rules/resets-per-ip", $$$"""
            {"type":"count","severity":"high","confidence":{{{confidence.ToString(CultureInfo.InvariantCulture)}}},"group_by":["actor.ip"],"window":"1m","threshold":3,
             "match":{"field":"event_type","equals":"password_reset"}}
            """);
        await PutAsync("v1/connectors/platform", $$"""
            {"type":"platform","platform":"instagram","url":"{{Platform.BaseAddress}}","secret":"env:PLATFORM_TOKEN"{{connectorFields}}}
            """);
        await PutAsync("v1/playbooks/contain", playbook);

        await PushAsync([.. Enumerable.Range(0, 3).Select(i => TestEvents.Json($"e-{i}", accounts[i % accounts.Count], "203.0.113.9", "password_reset", $"2026-03-02T01:00:0{i}.000Z"))]);
        return (await Server.Store.ListRunsAsync(new RunQuery(), Ct)).ShouldHaveSingleItem().Value;
    }

    /// <summary>Pushes events and waits until detection has handled them (and stored what fired, with its runs).</summary>
    public async Task PushAsync(params string[] events)
    {
        using var admin = Server.CreateAdminClient();
        (await Http.ReadJsonAsync(await admin.PostAsync("v1/events", IngestServer.Body("[" + string.Join(",", events) + "]"), Ct)))["accepted"]!.GetValue<int>().ShouldBe(events.Length);
        await Server.Services.GetRequiredService<DetectionPipeline>()
            .WhenHandledAsync(Server.Services.GetRequiredService<IEventStore>().LastOffset, Ct)
            .WaitAsync(Patience, Ct);
    }

    /// <summary>Waits until the run has finished, and reads it.</summary>
    public async Task<RunState> FinishedAsync(string runId) =>
        RunState.Read((await Executor.WhenFinishedAsync(runId, Ct).WaitAsync(Patience, Ct)).Document);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Platform.DisposeAsync();
        _data.Dispose();
    }
}
