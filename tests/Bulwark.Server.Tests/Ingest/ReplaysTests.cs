using System.Text.Json.Nodes;
using Bulwark.Server.Ingest;
using Bulwark.TestUtils;

namespace Bulwark.Server.Tests.Ingest;

/// <summary>The server's replays: one at a time, kept to be read, and waited for when the server stops.</summary>
public sealed class ReplaysTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StoppingTheServer_WaitsForTheRunningReplay()
    {
        var replays = new Replays(_time);
        var release = new TaskCompletionSource();
        var run = replays.TryStart([], _ => release.Task).Started!;

        var stop = replays.StopAsync(Ct);
        stop.IsCompleted.ShouldBeFalse();
        replays.TryStart([], _ => Task.CompletedTask).ShouldBe((null, run));
        release.SetResult();

        await stop.WaitAsync(Ct);
        (run.State, replays.Running).ShouldBe((ReplayState.Completed, null));
    }

    [Fact]
    public async Task FinishedReplays_TheLastTwentyAreKept_NewestFirst_WithHowTheyEnded()
    {
        var replays = new Replays(_time);
        var runs = new List<ReplayRun>();
        for (var i = 0; i < Replays.Kept + 1; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            var n = i;
            var run = replays.TryStart(new JsonObject { ["n"] = n }, r => n switch
            {
                1 => throw new OperationCanceledException(),
                2 => throw new InvalidOperationException("the store failed"),
                _ => Task.Run(() => r.Update(result => result["renormalized"] = n)),
            }).Started!;
            await run.Completion.WaitAsync(Ct);
            runs.Add(run);
        }

        replays.Find(runs[0].Id).ShouldBeNull();
        replays.List().Select(r => r.Id).ShouldBe(runs.Skip(1).Reverse().Select(r => r.Id));
        (runs[1].State, runs[2].State, runs[2].Error!.Message).ShouldBe((ReplayState.Stopped, ReplayState.Failed, "the store failed"));
        var last = replays.Find(runs[^1].Id)!.Snapshot();
        (last["id"]!.GetValue<string>(), last["n"]!.GetValue<int>(), last["renormalized"]!.GetValue<int>(), last["state"]!.GetValue<string>())
            .ShouldBe((runs[^1].Id, Replays.Kept, Replays.Kept, "completed"));
        (last["started"]!.GetValue<string>(), last["ended"]!.GetValue<string>()).ShouldBe(("2026-11-22T12:00:21.000000Z", "2026-11-22T12:00:21.000000Z"));
    }
}
