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
    public async Task Replay_AServerThatAnswersOnlyAtTheEnd_IsWaitedForHoweverLongItWorks()
    {
        var release = _server.HoldNext();
        var run = CliRunner.RunAsync(_server.BaseAddress, "bwk_token", _time, "events", "replay", "--since", "2026-01-01T00:00:00Z", "--renormalize");
        await _server.WaitForRequestsAsync(1, Ct);

        // It asked to be answered at once; a server (or a proxy) that does not is waited for with no deadline at all,
        // hours on the command's clock: a re-normalization of millions of snapshots may take that long.
        _server.Requests[0].Headers["Prefer"].ShouldBe("respond-async");
        _time.ActiveTimers.ShouldBe(0);
        _time.Advance(TimeSpan.FromHours(3));
        run.IsCompleted.ShouldBeFalse();
        release();

        var (exit, output, err) = await run.WaitAsync(Ct);
        exit.ShouldBe(ExitCodes.Ok, err);
        output.ShouldContain("re-normalized 70000 snapshots");
    }

    [Fact]
    public async Task Replay_AcceptedByTheServer_IsFollowedOnTheCommandsClockUntilItEnds()
    {
        var clock = new TimerSignallingClock();
        _server.Accepting = ["running", "running", "completed"];
        var run = CliRunner.RunAsync(_server.BaseAddress, "bwk_token", clock, "events", "replay", "--since", "2026-01-01T00:00:00Z", "--renormalize");

        // A look at the replay after each wait, sooner at first, at the address the server gave.
        foreach (var (look, interval) in new[] { (1, IngestCommands.FollowIntervals[0]), (2, IngestCommands.FollowIntervals[1]) })
        {
            (await clock.NextTimerAsync()).ShouldBe(interval);
            _server.Requests.Count.ShouldBe(look);
            clock.Advance(interval);
        }

        var (exit, output, err) = await run.WaitAsync(Ct);
        exit.ShouldBe(ExitCodes.Ok, err);
        output.ShouldContain("detection: rewound to offset 41");
        output.ShouldContain("re-normalized 70000 snapshots: 12 new events");
        _server.Requests.Select(r => (r.Method, r.Path)).ShouldBe(
            [("POST", "/v1/events/replay"), ("GET", "/v1/events/replays/rpl_0000000000000001"), ("GET", "/v1/events/replays/rpl_0000000000000001")]);
    }

    [Fact]
    public async Task Replay_StoppedOrFailedPartWay_SaysSoAndFails()
    {
        foreach (var (state, says) in new[] { ("stopped", "run it again once the server is back"), ("failed", "the replay failed part-way (SqliteException") })
        {
            var clock = new TimerSignallingClock();
            _server.Accepting = ["running", state];
            var run = CliRunner.RunAsync(_server.BaseAddress, "bwk_token", clock, "events", "replay", "--since", "2026-01-01T00:00:00Z");
            clock.Advance(await clock.NextTimerAsync());

            var (exit, _, err) = await run.WaitAsync(Ct);
            exit.ShouldBe(ExitCodes.Failed);
            err.ShouldContain(says);
        }
    }

    [Fact]
    public async Task Replay_NoWait_PrintsTheIdToFollow_AndDoesNotFollow()
    {
        _server.Accepting = ["running"];

        var (exit, output, err) = await CliRunner.RunAsync(_server.BaseAddress, "bwk_token", _time, "events", "replay", "--since", "2026-01-01T00:00:00Z", "--no-wait");

        exit.ShouldBe(ExitCodes.Ok, err);
        output.ShouldContain("rpl_0000000000000001 started: 'bulwark events replays rpl_0000000000000001' shows how it goes");
        _server.Requests.ShouldHaveSingleItem().Method.ShouldBe("POST");
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
        private string[]? _accepting;
        private int _looks;

        public string ReplayAnswer { get; set; } = """
            {"since":"2026-01-01T00:00:00.000000Z","until":null,"rewound":{"detection":41},"renormalized":70000,"appended":12}
            """;

        /// <summary>When set, the replay is accepted (202) in the first state, and each look at it sees the next one.</summary>
        public string[]? Accepting
        {
            get => _accepting;
            set => (_accepting, _looks) = (value, 0);
        }

        public static Task<SlowServer> StartAsync() => StartAsync(new SlowServer());

        protected override FakeAnswer Answer(RecordedRequest request) => request.Path switch
        {
            "/v1/events/replay" when Accepting is { } states => Replay(202, states[0], new Dictionary<string, string> { ["Location"] = "/v1/events/replays/rpl_0000000000000001" }),
            "/v1/events/replay" => FakeAnswer.Json(200, JsonNode.Parse(ReplayAnswer)!),
            "/v1/events/replays/rpl_0000000000000001" => Replay(200, Accepting![Math.Min(Interlocked.Increment(ref _looks), Accepting.Length - 1)]),
            _ => FakeAnswer.Json(200, JsonNode.Parse("""{"items":[],"next_after":null}""")!),
        };

        private FakeAnswer Replay(int status, string state, Dictionary<string, string>? headers = null)
        {
            var body = JsonNode.Parse(ReplayAnswer)!.AsObject();
            body.Insert(0, "id", "rpl_0000000000000001");
            body["state"] = state;
            if (state is "stopped" or "failed")
            {
                (body["completed"], body["error"]) = (false, state == "stopped" ? "the server is stopping" : "SqliteException");
            }

            return FakeAnswer.Json(status, body, headers);
        }
    }
}
