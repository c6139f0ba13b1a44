using System.Text.Json.Nodes;
using Bulwark.Cli.Client;
using Bulwark.Cli.Commands;
using Bulwark.TestUtils;
using Bulwark.TestUtils.Fakes;

namespace Bulwark.Cli.Tests;

/// <summary>
/// How long the CLI waits for an answer, on the command's clock, and what a replay's answer makes of its exit code, against
/// a loopback server that answers as told.
/// </summary>
public sealed class ClientWaitTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private SlowServer _server = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _server = await SlowServer.StartAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AnyCommand_NoAnswerWithinTheDefaultWait_GivesUpSayingHowLongItWaited()
    {
        _server.StallNext(1);
        var run = CliRunner.RunAsync(_server.BaseAddress, "bwk_token", _time, "events", "list");
        await _server.WaitForRequestsAsync(1, Ct);

        // The wait is a timer on the command's clock, not the HTTP client's own timeout on the machine's.
        _time.ActiveTimers.ShouldBe(1);
        _time.Advance(ApiClient.DefaultWait - TimeSpan.FromSeconds(1));
        run.IsCompleted.ShouldBeFalse();
        _time.Advance(TimeSpan.FromSeconds(1));

        var (exit, _, err) = await run.WaitAsync(Ct);
        exit.ShouldBe(ExitCodes.Unreachable);
        err.ShouldContain("did not answer within 100 s");
    }

    [Fact]
    public async Task Replay_WaitsForTheServerHoweverLongItWorks()
    {
        var release = _server.HoldNext();
        var run = CliRunner.RunAsync(_server.BaseAddress, "bwk_token", _time, "events", "replay", "--since", "2026-01-01T00:00:00Z", "--renormalize");
        await _server.WaitForRequestsAsync(1, Ct);

        // No deadline at all, and hours on the command's clock: a re-normalization of millions of snapshots may take
        // that long.
        _time.ActiveTimers.ShouldBe(0);
        _time.Advance(TimeSpan.FromHours(3));
        run.IsCompleted.ShouldBeFalse();
        release();

        var (exit, output, err) = await run.WaitAsync(Ct);
        exit.ShouldBe(ExitCodes.Ok, err);
        output.ShouldContain("re-normalized 70000 snapshots");
    }

    [Fact]
    public async Task Replay_SnapshotsTheLogRefused_AreListedAndTheCommandFails()
    {
        _server.ReplayAnswer = """
            {"since":"2026-01-01T00:00:00.000000Z","until":null,"rewound":{},"renormalized":254,"appended":254,"failed":2,
             "failures":[{"snapshot":"raw_a","error":"refused by the log"},{"snapshot":"raw_b","error":"refused by the log"}]}
            """;

        var (exit, output, err) = await CliRunner.RunAsync(_server.BaseAddress, "bwk_token", _time, "events", "replay", "--since", "2026-01-01T00:00:00Z", "--renormalize");

        exit.ShouldBe(ExitCodes.Failed);
        output.ShouldContain("re-normalized 254 snapshots: 254 new events");
        err.ShouldContain("2 snapshots were left out: the event log refused their events");
        err.ShouldContain("  raw_b: refused by the log");
        var (jsonExit, json, _) = await CliRunner.RunAsync(_server.BaseAddress, "bwk_token", _time, "events", "replay", "--since", "2026-01-01T00:00:00Z", "--json");
        jsonExit.ShouldBe(ExitCodes.Failed);
        JsonNode.Parse(json)!["failed"]!.GetValue<int>().ShouldBe(2);
    }

    private sealed class SlowServer : LoopbackFake
    {
        public string ReplayAnswer { get; set; } = """
            {"since":"2026-01-01T00:00:00.000000Z","until":null,"rewound":{"detection":41},"renormalized":70000,"appended":12}
            """;

        public static Task<SlowServer> StartAsync() => StartAsync(new SlowServer());

        protected override FakeAnswer Answer(RecordedRequest request) => request.Path switch
        {
            "/v1/events/replay" => FakeAnswer.Json(200, JsonNode.Parse(ReplayAnswer)!),
            _ => FakeAnswer.Json(200, JsonNode.Parse("""{"items":[],"next_after":null}""")!),
        };
    }
}
